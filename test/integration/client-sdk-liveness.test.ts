/**
 * A socket whose network dies without a close (here: a TCP proxy that stops forwarding) is noticed
 * by the SDK's in-band ping and replaced: the client reconnects by itself.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { TickgateClient } from 'tickgate/client';
import { startSystem } from '../helpers/system.ts';
import { until } from '../helpers/wait.ts';

const sys = await startSystem({ after }, { env: { HEARTBEAT_MS: '1000', PONG_TIMEOUT_MS: '60000' } });

/** A loopback proxy to the gateway; `freeze()` stops forwarding on the connections open now. */
async function startProxy(target: number) {
  const open = new Set<net.Socket>();
  const frozen = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('error', () => {});
      s.on('close', () => open.delete(s));
    }
    client.on('data', (d) => frozen.has(client) || upstream.write(d));
    upstream.on('data', (d) => frozen.has(client) || client.write(d));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  after(() => {
    for (const s of open) s.destroy();
    server.close();
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    freeze: () => {
      for (const s of open) frozen.add(s);
    },
  };
}

test('a silently dead connection is dropped after the ping goes unanswered, and the client reconnects', async () => {
  const proxy = await startProxy(sys.gateways[0]!.port);
  const u = await sys.user();
  const c = new TickgateClient({ url: `http://127.0.0.1:${proxy.port}`, pongTimeoutMs: 1_500 });
  after(() => c.close());
  await c.login(u.username, u.password);
  const first = await c.connect();
  const reconnecting: { code: number; reason: string }[] = [];
  c.on('reconnecting', (e) => reconnecting.push(e));
  proxy.freeze();
  const frozenAt = Date.now();
  const again = await new Promise<{ welcome: { conn_id: string } }>((resolve) => c.on('connected', resolve));
  assert.notEqual(again.welcome.conn_id, first.conn_id);
  assert.equal(reconnecting[0]?.code, 1006);
  assert.ok(Date.now() - frozenAt < 10_000);
  await until('a working socket', async () => (await c.list().catch(() => undefined)) !== undefined);
});
