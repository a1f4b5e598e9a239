/**
 * `load(env)` turns an environment (plus optional files in config/) into one frozen, validated
 * Config. Every problem is collected and reported at once, each naming its variable, so an
 * operator fixes a bad deployment in one round.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { roleValidates } from './roles.ts';
import { schema, type Config, type Setting } from './schema.ts';

export { schema, type Config } from './schema.ts';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const configDir = path.dirname(fileURLToPath(import.meta.url));

/**
 * Settings from `config/tickgate.json` then `config/local.json` (both optional, keyed by env
 * name, values as strings or numbers); the environment overrides them.
 */
export function readConfigFiles(dir = configDir): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['tickgate.json', 'local.json']) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError([`${file}: not valid JSON (${(err as Error).message})`]);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError([`${file}: expected an object of VARIABLE: value`]);
    }
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
      else throw new ConfigError([`${file}: ${k} must be a string or number`]);
    }
  }
  return out;
}

/**
 * `role`, when given, limits validation to the settings that role reads (config/roles.ts): a bad
 * value elsewhere is not its problem and the setting keeps its default. Without it, everything.
 */
export function load(env: NodeJS.ProcessEnv = process.env, files: Record<string, string> = {}, role?: string): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(schema) as [string, Setting<unknown>][]) {
    const raw = env[setting.env] ?? files[setting.env] ?? setting.default;
    if (raw === undefined || (raw === '' && setting.default === undefined)) {
      out[key] = undefined;
      continue;
    }
    const r = setting.parse(raw);
    if (r.ok) out[key] = r.value;
    else if (roleValidates(role, key)) problems.push(`${setting.env}: ${r.problem}`);
    else out[key] = setting.default === undefined ? undefined : (setting.parse(setting.default) as { value: unknown }).value;
  }
  if (out.nodeEnv === 'production' && out.jwtSecret === undefined && roleValidates(role, 'jwtSecret')) {
    problems.push('JWT_SECRET: required when NODE_ENV=production');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as Config;
}

/** The config table of the README, generated from the schema so the two cannot drift. */
export function configTableMarkdown(): string {
  const rows = Object.values(schema as Record<string, Setting<unknown>>).map((s) => {
    const def = s.defaultDoc ?? (s.default === undefined ? 'unset' : `\`${s.default}\``);
    return `| \`${s.env}\` | ${def} | ${s.doc} |`;
  });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
