import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, SimulatedClock } from 'xstate';
import { connectionMachine, type ConnectionEmitted, type ConnectionInput } from '../../actors/connection-machine.ts';
import { decodeClientMessage, type ClientMessage } from '../../src/protocol/client-messages.ts';
import { CloseCodes } from '../../src/protocol/close-codes.ts';

const H = 1_000;
const P = 500;

function start(overrides: Partial<ConnectionInput> = {}) {
  const clock = new SimulatedClock();
  // SimulatedClock starts at 0; expiry far away unless a test sets it.
  const input: ConnectionInput = {
    heartbeatMs: H, pongTimeoutMs: P, maxTokens: 5, msgRate: 20, msgBurst: 40, reauthLeadMs: 30_000, slowCloseMs: 10_000,
    expiresAt: 10_000_000, userId: 'u1', now: () => clock.now(), ...overrides,
  };
  const actor = createActor(connectionMachine, { input, clock });
  const effects: ConnectionEmitted[] = [];
  actor.on('*', (e) => effects.push(e as ConnectionEmitted));
  actor.subscribe({ error: (err) => assert.fail(String(err)) });
  actor.start();
  return { actor, clock, effects };
}

function msg(json: object): ClientMessage {
  const d = decodeClientMessage(JSON.stringify(json));
  assert.ok(d.ok);
  return d.msg;
}

const closes = (effects: ConnectionEmitted[]) =>
  effects.flatMap((e) => (e.type === 'effect.close' ? [e.close.code] : []));
const pings = (effects: ConnectionEmitted[]) => effects.filter((e) => e.type === 'effect.ping').length;

test('sends a ping every heartbeat and stays open while the client answers', () => {
  const { actor, clock, effects } = start();
  for (let i = 0; i < 10; i++) {
    clock.increment(H);
    actor.send({ type: 'client.frame' }); // the pong
  }
  assert.equal(pings(effects), 10);
  assert.deepEqual(closes(effects), []);
  assert.equal(actor.getSnapshot().status, 'active');
});

test('closes with 4000 after heartbeat + pong timeout of silence', () => {
  const { actor, clock, effects } = start();
  clock.increment(H + P - 1);
  assert.deepEqual(closes(effects), []);
  clock.increment(1);
  assert.deepEqual(closes(effects), [CloseCodes.heartbeatTimeout.code]);
  assert.equal(actor.getSnapshot().status, 'done');
});

test('a frame between pings moves the silence deadline', () => {
  const { clock, actor, effects } = start();
  clock.increment(H / 2);
  actor.send({ type: 'client.frame' });
  clock.increment(H / 2); // ping goes out; last frame was H/2 ago
  assert.equal(pings(effects), 1);
  clock.increment(P + H / 2 - 1);
  assert.deepEqual(closes(effects), []);
  clock.increment(1);
  assert.deepEqual(closes(effects), [4000]);
});

test('subscribe records tokens and emits one effect with the mode; resubscribe changes mode', () => {
  const { actor, effects } = start();
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [1, 2], id: 7 }) });
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [2], mode: 'full' }) });
  const subs = effects.filter((e) => e.type === 'effect.subscribe');
  assert.equal(subs.length, 2);
  const [first, second] = subs;
  assert.ok(first?.type === 'effect.subscribe' && second?.type === 'effect.subscribe');
  assert.deepEqual([first.tokens, first.mode, first.id], [[1, 2], 'quote', 7]);
  assert.deepEqual(second.modeChanged, [{ token: 2, from: 'quote' }]);
  assert.deepEqual([...actor.getSnapshot().context.subscriptions], [[1, 'quote'], [2, 'full']]);
});

test('a subscribe that would pass the token limit is refused whole with limit_exceeded', () => {
  const { actor, effects } = start({ maxTokens: 3 });
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [1, 2] }) });
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [3, 4], id: 'x' }) });
  const last = effects.at(-1)!;
  assert.ok(last.type === 'effect.send' && last.message.type === 'error');
  assert.equal(last.message.type === 'error' && last.message.code, 'limit_exceeded');
  assert.equal(last.message.type === 'error' && last.message.id, 'x');
  assert.equal(actor.getSnapshot().context.subscriptions.size, 2);
});

test('unsubscribe removes only subscribed tokens and reports their modes', () => {
  const { actor, effects } = start();
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [1, 2], mode: 'ltp' }) });
  actor.send({ type: 'client.message', msg: msg({ op: 'unsubscribe', tokens: [2, 9], id: 3 }) });
  const u = effects.find((e) => e.type === 'effect.unsubscribe');
  assert.ok(u && u.type === 'effect.unsubscribe');
  assert.deepEqual(u.removed, [{ token: 2, mode: 'ltp' }]);
  assert.deepEqual(u.tokens, [2, 9]);
  assert.deepEqual([...actor.getSnapshot().context.subscriptions.keys()], [1]);
});

test('list and ping answer with their ids', () => {
  const { actor, effects, clock } = start();
  clock.increment(5);
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [42], mode: 'full' }) });
  actor.send({ type: 'client.message', msg: msg({ op: 'list', id: 1 }) });
  actor.send({ type: 'client.message', msg: msg({ op: 'ping', id: 2 }) });
  const sent = effects.flatMap((e) => (e.type === 'effect.send' ? [e.message] : []));
  assert.deepEqual(sent, [
    { type: 'subscriptions', id: 1, tokens: { 42: 'full' } },
    { type: 'pong', id: 2, ts: 5 },
  ]);
});

test('a burst beyond MSG_BURST gets rate_limited; a sustained flood closes 4008', () => {
  const { actor, effects } = start({ msgRate: 20, msgBurst: 40 });
  for (let i = 0; i < 41; i++) actor.send({ type: 'client.message', msg: msg({ op: 'ping' }) });
  const errors = effects.flatMap((e) => (e.type === 'effect.send' && e.message.type === 'error' ? [e.message.code] : []));
  assert.deepEqual(errors, ['rate_limited']);
  for (let i = 0; i < 200 && actor.getSnapshot().status === 'active'; i++) {
    actor.send({ type: 'client.message', msg: msg({ op: 'ping' }) });
  }
  assert.deepEqual(closes(effects), [CloseCodes.rateLimited.code]);
});

test('messages at the sustained rate are never limited', () => {
  const { actor, effects, clock } = start({ msgRate: 20, msgBurst: 40 });
  for (let i = 0; i < 400; i++) {
    clock.increment(50);
    actor.send({ type: 'client.frame' });
    actor.send({ type: 'client.message', msg: msg({ op: 'ping' }) });
  }
  assert.equal(effects.filter((e) => e.type === 'effect.send' && e.message.type === 'error').length, 0);
});

test('reauth before expiry, then 4001 at expiry without a fresh token', () => {
  const { actor, effects, clock } = start({ expiresAt: 60_000, reauthLeadMs: 30_000, heartbeatMs: 1_000_000 });
  clock.increment(29_999);
  assert.equal(effects.length, 0);
  clock.increment(1);
  assert.deepEqual(effects.at(-1), { type: 'effect.send', message: { type: 'reauth', expires_at: 60_000 } });
  clock.increment(30_000);
  assert.deepEqual(closes(effects), [CloseCodes.tokenExpired.code]);
  assert.equal(actor.getSnapshot().status, 'done');
});

test('a verified auth moves the expiry and restarts the reauth timer', () => {
  const { actor, effects, clock } = start({ expiresAt: 60_000, reauthLeadMs: 30_000, heartbeatMs: 1_000_000 });
  clock.increment(40_000);
  actor.send({ type: 'auth.verified', id: 9, expiresAt: 200_000 });
  assert.deepEqual(effects.at(-1), { type: 'effect.send', message: { type: 'auth_ok', id: 9, expires_at: 200_000 } });
  clock.increment(100_000); // well past the old expiry
  assert.deepEqual(closes(effects), []);
  clock.increment(30_000); // 170 s: reauth for the new token
  assert.deepEqual(effects.at(-1), { type: 'effect.send', message: { type: 'reauth', expires_at: 200_000 } });
  clock.increment(30_000);
  assert.deepEqual(closes(effects), [4001]);
});

test('server.close emits the close once and stops every timer', () => {
  const { actor, effects, clock } = start();
  actor.send({ type: 'server.close', close: CloseCodes.sessionRevoked });
  clock.increment(10 * H);
  assert.deepEqual(closes(effects), [4003]);
  assert.equal(pings(effects), 0);
});

test('a socket behind for SLOW_CLOSE_MS is closed 4009; catching up in time resets the clock', () => {
  const { actor, effects, clock } = start({ heartbeatMs: 1_000_000, slowCloseMs: 1_000 });
  actor.send({ type: 'socket.behind' });
  clock.increment(999);
  actor.send({ type: 'socket.caughtUp' });
  clock.increment(5_000);
  assert.deepEqual(closes(effects), []);
  actor.send({ type: 'socket.behind' });
  clock.increment(999);
  assert.deepEqual(closes(effects), []);
  clock.increment(1);
  assert.deepEqual(closes(effects), [CloseCodes.slowConsumer.code]);
  assert.equal(actor.getSnapshot().status, 'done');
});
