/**
 * A private `redis-server` child: free loopback port, data in a directory of ours, AOF on. Used by
 * `tickgate start` when REDIS_URL is unset, and by every integration test file.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

export class RedisNotInstalledError extends Error {
  constructor() {
    super(
      'redis-server is not on PATH: install it (Debian/Ubuntu: `apt-get install -y redis-server`, macOS: `brew install redis`) ' +
        'or set REDIS_URL to an existing Redis.',
    );
    this.name = 'RedisNotInstalledError';
  }
}

export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error === undefined;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface EmbeddedRedis {
  url: string;
  port: number;
  dir: string;
  child: ChildProcess;
  /** Graceful SHUTDOWN via SIGTERM (AOF flushed), SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<void>;
  /** Simulates a crash: SIGKILL, no flush beyond what AOF already wrote. */
  kill9(): Promise<void>;
}

export async function startEmbeddedRedis(dir: string, opts: { port?: number; readyTimeoutMs?: number; detached?: boolean } = {}): Promise<EmbeddedRedis> {
  if (!redisServerAvailable()) throw new RedisNotInstalledError();
  fs.mkdirSync(dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const child = spawn(
    'redis-server',
    [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
      '--daemonize', 'no', '--protected-mode', 'yes', '--logfile', '',
    ],
    // detached: its own process group, for a supervisor that stops it last rather than with Ctrl-C.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`redis-server did not start within ${opts.readyTimeoutMs ?? 10_000} ms:\n${output}`)), opts.readyTimeoutMs ?? 10_000);
    const onData = (b: Buffer) => {
      output += b.toString();
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stdout!.resume();
        resolve();
      }
    };
    function fail(err: Error) {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(err);
    }
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    child.once('exit', (code) => fail(new Error(`redis-server exited with ${code} before it was ready:\n${output}`)));
    child.once('error', fail);
  });
  child.removeAllListeners('exit');

  const exited = () => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    child,
    async stop(timeoutMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited();
      clearTimeout(t);
    },
    async kill9() {
      child.kill('SIGKILL');
      await exited();
    },
  };
}
