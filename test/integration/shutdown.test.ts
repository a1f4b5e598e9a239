/** Stopping a gateway tells each client to reconnect, with its own jittered delay, then closes 1001. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSystem } from '../helpers/system.ts';

const sys = await startSystem({ after });

test('a stopping gateway sends shutdown with a jittered reconnect delay, then closes with 1001', async () => {
  const u = await sys.user();
  const clients = await Promise.all(Array.from({ length: 8 }, () => sys.connect(u.access)));
  await sys.gateways[0]!.close();
  const delays: number[] = [];
  for (const c of clients) {
    const { code } = await c.waitClose();
    assert.equal(code, 1001);
    const shutdown = c.inbox.find((m) => m.type === 'shutdown');
    assert.ok(shutdown, 'shutdown before the close');
    assert.equal(c.inbox.at(-1), shutdown, 'shutdown is the last message');
    assert.ok(shutdown.reconnect_after_ms >= 500 && shutdown.reconnect_after_ms < 5_000);
    delays.push(shutdown.reconnect_after_ms);
  }
  assert.ok(new Set(delays).size > 1, 'delays differ between sockets');
});
