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

/**
 * Runs `critical` holding `<file>.lock` (created exclusively), so two `tickgate client` processes
 * sharing the file never refresh the same session at once. A lock older than 15 s is taken over
 * (its holder died); waiting gives up after 10 s and runs anyway.
 */
export async function withFileLock<T>(file: string, critical: () => Promise<T>): Promise<T> {
  const lock = `${file}.lock`;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + 10_000;
  let held = false;
  while (!held && Date.now() < deadline) {
    try {
      fs.closeSync(fs.openSync(lock, 'wx', 0o600));
      held = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 15_000) fs.rmSync(lock, { force: true });
      } catch {
        // gone meanwhile
      }
      await new Promise((r) => setTimeout(r, 25 + Math.random() * 50));
    }
  }
  try {
    return await critical();
  } finally {
    if (held) fs.rmSync(lock, { force: true });
  }
}
