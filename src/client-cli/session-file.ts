/**
 * Where `tickgate client` keeps its sessions: one JSON file per OS user, readable by that user
 * only (0600), holding one session per server URL. `TICKGATE_CONFIG` names another file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Session } from '../client/types.ts';

export interface SavedSession { username: string; session: Session }
interface FileShape { sessions: Record<string, SavedSession> }

export function sessionFilePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TICKGATE_CONFIG) return path.resolve(env.TICKGATE_CONFIG);
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'tickgate', 'session.json');
}

function read(file: string): FileShape {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as FileShape;
    return parsed && typeof parsed.sessions === 'object' && parsed.sessions !== null ? parsed : { sessions: {} };
  } catch {
    return { sessions: {} };
  }
}

function write(file: string, data: FileShape): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // Written to a private temp file and renamed: the tokens are never readable by others, even briefly.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

export function loadSession(file: string, url: string): SavedSession | undefined {
  return read(file).sessions[url];
}

export function saveSession(file: string, url: string, saved: SavedSession | undefined): void {
  const data = read(file);
  if (saved) data.sessions[url] = saved;
  else delete data.sessions[url];
  write(file, data);
}
