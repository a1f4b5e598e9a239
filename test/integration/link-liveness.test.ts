/**
 * Issue 8 acceptance, "dead ingester": a real `tickgate ingester` process is frozen (SIGSTOP) and
 * later killed. A dead ingester must not look like a quiet market: subscribers get `stale` within
 * STALE_MS plus the heartbeat window, /readyz names `ingester`; when it is back, `live` and a
 * snapshot, and seqs continue with no unexplained jump. After a kill and a new start: `stale`,
 * then `epoch` and snapshots.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { pumpFeed, startProcessSystem } from '../helpers/ingester-process.ts';
import { continuity, seqReuse } from '../helpers/recording.ts';
import { until } from '../helpers/wait.ts';
import type { Msg, TestClient } from '../helpers/ws-client.ts';

const STALE_MS = 1_000;
/** STALE_MS plus the heartbeat window (heartbeats every 1 s, link down after 3.5 s without). */
const STALE_BOUND_MS = STALE_MS + 4_000;

const sys = await startProcessSystem({ after }, { STALE_MS: String(STALE_MS) });

const isStatus = (state: string, token: number) => (m: Msg) => m.type === 'status' && m.state === state && m.tokens?.includes(token);
const indexFrom = (c: TestClient, from: number, pred: (m: Msg) => boolean) => {
  const i = c.inbox.slice(from).findIndex(pred);
  return i < 0 ? -1 : from + i;
};
const liveTicksSince = (c: TestClient, from: number, token: number) =>
  c.inbox.slice(from).filter((m) => m.type === 'tick' && m.token === token && !m.snapshot).length;

/** Waits until every token has a `stale` status after `from`; returns the time it took from `t0`. */
async function untilStale(c: TestClient, tokens: number[], from: number, t0: number): Promise<number> {
  await until('stale for every token', () => tokens.every((t) => indexFrom(c, from, isStatus('stale', t)) >= 0), STALE_BOUND_MS + 1_000, 10);
  return Date.now() - t0;
}

test('a frozen ingester (SIGSTOP): stale within STALE_MS + the heartbeat window, /readyz 503 naming ingester; SIGCONT: live, a snapshot, no unexplained jump', { timeout: 30_000 }, async (ctx) => {
  const tokens = [1301, 1302];
  const c = await sys.client();
  await c.request({ op: 'subscribe', tokens, mode: 'quote' });
  const pump = pumpFeed(sys.feed, tokens, 5);
  try {
    await until('ticks of every token', () => tokens.every((t) => liveTicksSince(c, 0, t) >= 20), 10_000);
    assert.equal(c.inbox.find((m) => m.type === 'status'), undefined, 'no status while the feed ticks');
    assert.equal((await sys.http('GET', '/readyz')).status, 200);

    const stoppedAt = c.inbox.length;
    const t0 = Date.now();
    sys.ingester.signal('SIGSTOP');
    const staleAfterMs = await untilStale(c, tokens, stoppedAt, t0);
    ctx.diagnostic(`SIGSTOP → stale for every subscriber in ${staleAfterMs} ms (bound ${STALE_BOUND_MS} ms)`);
    assert.ok(staleAfterMs <= STALE_BOUND_MS, `stale after ${staleAfterMs} ms`);
    const ready = await sys.http('GET', '/readyz');
    assert.equal(ready.status, 503);
    assert.ok(ready.body.down.includes('ingester'), JSON.stringify(ready.body));

    const contAt = c.inbox.length;
    sys.ingester.signal('SIGCONT');
    // The thawed ingester may itself report `stale` first (its clock jumped past STALE_MS before
    // it read the queued feed), so the snapshot and `live` may come in either order; the last
    // word for each token must be `live`, with ticks flowing.
    await until('live, a snapshot and 20 ticks per token after SIGCONT', () => tokens.every((t) => {
      const statuses = c.inbox.slice(contAt).filter((m) => m.type === 'status' && m.tokens?.includes(t));
      return statuses.at(-1)?.state === 'live'
        && indexFrom(c, contAt, (m) => m.type === 'tick' && m.token === t && m.snapshot === true) >= 0
        && liveTicksSince(c, contAt, t) >= 20;
    }), 10_000);
    ctx.diagnostic(`after SIGCONT: ${JSON.stringify(c.inbox.slice(contAt).filter((m) => m.type !== 'tick' || m.snapshot).slice(0, 12).map((m) => m.type === 'tick' ? `snapshot ${m.token}:${m.seq}` : `${m.type} ${m.tokens ?? ''} ${m.state ?? ''}`))}`);
    await until('/readyz 200 again', async () => (await sys.http('GET', '/readyz')).status === 200, 5_000);
  } finally {
    pump.stop();
  }
  for (const t of tokens) {
    const r = continuity(c.inbox, t);
    assert.deepEqual(r.violations, [], `token ${t}: no unexplained jump`);
    ctx.diagnostic(`token ${t}: ${r.seqs.length} ticks, gap messages ${JSON.stringify(r.gaps)}`);
  }
  assert.deepEqual(seqReuse(c.inbox), []);
  ctx.diagnostic(`link stats ${JSON.stringify(sys.gateway.ctx.link.stats)}`);
});

test('a killed ingester (SIGKILL): stale within the bound; after a new start, epoch, then live and a snapshot of every token', { timeout: 30_000 }, async (ctx) => {
  const tokens = [1401, 1402];
  const c = await sys.client();
  const ack = await c.request({ op: 'subscribe', tokens, mode: 'ltp' });
  const pump = pumpFeed(sys.feed, tokens, 5);
  try {
    await until('ticks of every token', () => tokens.every((t) => liveTicksSince(c, 0, t) >= 20), 10_000);
    const killedAt = c.inbox.length;
    const t0 = Date.now();
    assert.equal(await sys.stopIngester('SIGKILL'), 'SIGKILL');
    const staleAfterMs = await untilStale(c, tokens, killedAt, t0);
    ctx.diagnostic(`SIGKILL → stale for every subscriber in ${staleAfterMs} ms`);
    assert.ok(staleAfterMs <= STALE_BOUND_MS, `stale after ${staleAfterMs} ms`);
    assert.equal((await sys.http('GET', '/readyz')).status, 503);

    const staleAt = c.inbox.length;
    await sys.startIngester();
    const epochMsg = await c.nextOfType('epoch', 10_000);
    assert.notEqual(epochMsg.epoch, ack.epoch);
    const epochAt = c.inbox.indexOf(epochMsg);
    assert.ok(epochAt >= staleAt, 'the epoch message comes after the stale');
    await until('live, a snapshot and 10 ticks per token after the epoch message', () => tokens.every((t) =>
      indexFrom(c, staleAt, isStatus('live', t)) >= 0 && liveTicksSince(c, epochAt, t) >= 10), 10_000);
    for (const t of tokens) {
      const first = c.inbox.slice(epochAt).find((m) => m.type === 'tick' && m.token === t);
      assert.equal(first?.snapshot, true, `token ${t}: the first tick after the epoch message is a snapshot`);
    }
  } finally {
    pump.stop();
  }
  for (const t of tokens) assert.deepEqual(continuity(c.inbox, t).violations, [], `token ${t}`);
  assert.deepEqual(seqReuse(c.inbox), []);
});
