/** Each test file starts its own redis-server (free port, temp dir, AOF on) — never the machine's. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { startEmbeddedRedis, type EmbeddedRedis } from '../../src/start/embedded-redis.ts';

export async function startTestRedis(t: Pick<TestContext, 'after'> | { after: (fn: () => unknown) => void }): Promise<EmbeddedRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-redis-'));
  const redis = await startEmbeddedRedis(dir);
  t.after(async () => {
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return redis;
}
