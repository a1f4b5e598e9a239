/**
 * Reads what the compose-on-host test needs from docker-compose.yml: each service's `command`
 * (a JSON-style flow list) and `environment` (a block of `KEY: value` lines). Not a YAML parser:
 * it relies on the file's own layout (two-space indents, one service per `  name:` line), and
 * fails loudly when a service lacks what it expects.
 */
import fs from 'node:fs';

export interface ComposeService {
  command: string[];
  environment: Record<string, string>;
  /** The healthcheck's `test` list (`["CMD", …]`), when it has one. */
  healthcheck?: string[];
}

export function readCompose(file: string, vars: Record<string, string>): Record<string, ComposeService> {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const services: Record<string, ComposeService> = {};
  let inServices = false;
  let current: ComposeService | undefined;
  let inEnv = false;
  for (const raw of lines) {
    const line = raw.replace(/\s+#.*$/, '');
    if (/^\S/.test(line)) {
      inServices = line.startsWith('services:');
      current = undefined;
      continue;
    }
    if (!inServices) continue;
    const svc = /^ {2}([a-z][\w-]*):\s*$/.exec(line);
    if (svc) {
      current = services[svc[1]!] = { command: [], environment: {} };
      inEnv = false;
      continue;
    }
    if (!current) continue;
    const cmd = /^ {4}command:\s*(\[.*\])\s*$/.exec(line);
    if (cmd) current.command = JSON.parse(cmd[1]!) as string[];
    const hc = /^ {6}test:\s*(\[.*\])\s*$/.exec(line);
    if (hc) current.healthcheck = JSON.parse(hc[1]!) as string[];
    if (/^ {4}environment:\s*$/.test(line)) {
      inEnv = true;
      continue;
    }
    if (/^ {4}\S/.test(line)) inEnv = false;
    const kv = inEnv ? /^ {6}([A-Z_][A-Z0-9_]*):\s*(.*)$/.exec(line) : null;
    if (kv) current.environment[kv[1]!] = substitute(unquote(kv[2]!.trim()), vars);
  }
  return services;
}

function unquote(v: string): string {
  return /^".*"$/.test(v) || /^'.*'$/.test(v) ? v.slice(1, -1) : v;
}

/** `${NAME}`, `${NAME:?message}` and `${NAME:-default}` as compose expands them. */
function substitute(v: string, vars: Record<string, string>): string {
  return v.replace(/\$\{([A-Z_][A-Z0-9_]*)(?::([?-])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    if (vars[name] !== undefined && vars[name] !== '') return vars[name]!;
    if (op === '?') throw new Error(`compose: ${name} is required: ${arg}`);
    return op === '-' ? arg ?? '' : '';
  });
}
