/**
 * Command-line parsing for the roles that take options (`ctl`, `bench`): Node's `util.parseArgs`,
 * with its problems returned as one short line instead of thrown (its own messages run over
 * several lines and suggest syntax our usage texts do not use).
 *
 * Rules: long options as `--name value` or `--name=value`; `--` ends the options; a boolean
 * option takes no value; a string option's separate value must not start with `-` (write
 * `--name=-x` for that). A word starting with a single `-` that is not exactly one of the short
 * options (`-h`) is an ordinary argument, so an operator's message may contain "-2%".
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
}

export type OptionValues<O extends Record<string, OptionSpec>> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean' ? true : string;
};

export type ParsedCommandLine<O extends Record<string, OptionSpec>> =
  | { ok: true; values: OptionValues<O>; positionals: string[] }
  | { ok: false; error: string };

export function parseCommandLine<O extends Record<string, OptionSpec>>(argv: readonly string[], options: O): ParsedCommandLine<O> {
  // strict: false so that unknown options come back as tokens to judge here, not as exceptions.
  const { tokens } = parseArgs({ args: [...argv], options, allowPositionals: true, strict: false, tokens: true });
  const values: Record<string, string | true> = {};
  const positionals: string[] = [];
  const wordsTaken = new Set<number>();
  for (const t of tokens) {
    if (t.kind === 'positional') {
      positionals.push(t.value);
    } else if (t.kind === 'option') {
      const word = argv[t.index]!;
      if (!t.rawName.startsWith('--') && !(Object.hasOwn(options, t.name) && word === t.rawName)) {
        // parseArgs split a word like "-2%" into short options: it is an argument, kept whole.
        if (!wordsTaken.has(t.index)) positionals.push(word);
        wordsTaken.add(t.index);
        continue;
      }
      if (!Object.hasOwn(options, t.name)) return { ok: false, error: `unknown option ${t.rawName}` };
      if (options[t.name]!.type === 'boolean') {
        if (t.value !== undefined) return { ok: false, error: `${t.rawName} takes no value` };
        values[t.name] = true;
      } else {
        if (t.value === undefined || (!t.inlineValue && t.value.startsWith('-'))) return { ok: false, error: `${t.rawName} needs a value` };
        values[t.name] = t.value;
      }
    }
  }
  return { ok: true, values: values as OptionValues<O>, positionals };
}
