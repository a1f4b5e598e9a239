import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { connectionMachine, openingSnapshot, type AuthOutcome, type ConnectionEmitted, type ConnectionInput, type ConnectionSettings, type VerifyAccessInput } from '../../actors/connection-machine.ts';
import { decodeClientMessage, type ClientMessage } from '../../src/protocol/client-messages.ts';
import { CloseCodes } from '../../src/protocol/close-codes.ts';
import { WakeWheel, type Sleeper } from '../../src/gateway/wake-wheel.ts';

const H = 1_000;
const P = 500;

function start(overrides: Partial<ConnectionSettings & Omit<ConnectionInput, 'settings'>> = {}, machine = connectionMachine) {
  const clock = new SimulatedClock();
  // SimulatedClock starts at 0; expiry far away unless a test sets it.
  const { expiresAt = 10_000_000, userId = 'u1', sid = 's1', ...settings } = overrides;
  const input: ConnectionInput = {
    settings: {
      heartbeatMs: H, pongTimeoutMs: P, maxTokens: 5, msgRate: 20, msgBurst: 40, reauthLeadMs: 30_000, slowCloseMs: 10_000,
      slowThresholdBytes: 1_000, now: () => clock.now(), ...settings,
    },
    expiresAt, userId, sid,
  };
  // Opened as the gateway opens them: restored from the shared opening state (see openingSnapshot).
  const opening = openingSnapshot(input);
  const actor = createActor(machine, { input, snapshot: opening.snapshot });
  // Time reaches the actor as the gateway delivers it: the wheel wakes it when it asked to be.
  const sleeper: Sleeper = {};
  const wheel = new WakeWheel(clock, () => clock.now(), () => actor.send({ type: 'clock.due' }));
  const effects: ConnectionEmitted[] = [];
  actor.on('*', (e) => {
    const effect = e as ConnectionEmitted;
    if (effect.type === 'effect.wake') wheel.schedule(sleeper, effect.at);
    else effects.push(effect);
  });
  actor.subscribe({ error: (err) => assert.fail(String(err)) });
  actor.start();
  wheel.schedule(sleeper, opening.wakeAt);
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

test('a client message proves the client alive as a pong does, also while a ping is unanswered', () => {
  const { actor, clock, effects } = start();
  clock.increment(H); // ping goes out
  assert.equal(pings(effects), 1);
  clock.increment(P - 1);
  actor.send({ type: 'client.message', msg: msg({ op: 'list' }) });
  clock.increment(H); // the next ping, HEARTBEAT_MS after the message answered the first
  assert.equal(pings(effects), 2);
  clock.increment(P - 1);
  actor.send({ type: 'client.invalid', id: undefined, code: 'bad_request', message: 'x' });
  clock.increment(H + P - 1);
  assert.deepEqual(closes(effects), []);
  clock.increment(1);
  assert.deepEqual(closes(effects), [CloseCodes.heartbeatTimeout.code]);
});

test('a flood that is closed 4008 while a ping is unanswered is still closed 4008', () => {
  const { actor, clock, effects } = start();
  clock.increment(H); // awaiting the pong
  for (let i = 0; i < 200 && closes(effects).length === 0; i++) actor.send({ type: 'client.unread' });
  assert.deepEqual(closes(effects), [CloseCodes.rateLimited.code]);
  assert.equal(actor.getSnapshot().status, 'done');
});

test('subscribe records tokens and emits one effect with the mode; resubscribe changes mode', () => {
  const { actor, effects } = start();
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [1, 2], id: 7 }) });
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [2], mode: 'full' }) });
  const subs = effects.filter((e) => e.type === 'effect.subscribe');
  assert.equal(subs.length, 2);
  const [first, second] = subs;
  assert.ok(first?.type === 'effect.subscribe' && second?.type === 'effect.subscribe');
  assert.deepEqual([first.tokens, first.sub, first.id], [[1, 2], { mode: 'quote', throttleMs: 0 }, 7]);
  assert.deepEqual(second.changed, [{ token: 2, from: { mode: 'quote', throttleMs: 0 } }]);
  assert.deepEqual([...actor.getSnapshot().context.subscriptions], [[1, { mode: 'quote', throttleMs: 0 }], [2, { mode: 'full', throttleMs: 0 }]]);
});

test('throttle_ms is rounded up per token; the same subscription again is unchanged, another interval is a change', () => {
  const { actor, effects } = start();
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [1], mode: 'ltp', throttle_ms: 220 }) });
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [1], mode: 'ltp', throttle_ms: 250 }) });
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [1], mode: 'ltp' }) });
  const subs = effects.flatMap((e) => (e.type === 'effect.subscribe' ? [e] : []));
  assert.deepEqual(subs.map((e) => [e.sub.throttleMs, e.unchanged, e.changed.map((c) => c.from.throttleMs)]), [
    [250, [], []],
    [250, [1], []],
    [0, [], [250]],
  ]);
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
  assert.deepEqual(u.removed, [{ token: 2, sub: { mode: 'ltp', throttleMs: 0 } }]);
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

/** Sends `rate` pings per second, evenly spaced, until closed or `maxMs`; returns when it closed. */
function sendAtRate(h: ReturnType<typeof start>, rate: number, maxMs: number): number | undefined {
  let sent = 0;
  for (let t = 0; t < maxMs && h.actor.getSnapshot().status === 'active'; t += 1) {
    h.clock.increment(1);
    while (sent < ((t + 1) * rate) / 1000 && h.actor.getSnapshot().status === 'active') {
      h.actor.send({ type: 'client.frame' });
      h.actor.send({ type: 'client.message', msg: msg({ op: 'ping', id: sent++ }) });
    }
  }
  return h.actor.getSnapshot().status === 'active' ? undefined : h.clock.now();
}

test('30 msgs/s sustained against MSG_RATE=20 closes 4008 within 30 s (strikes alone never did)', () => {
  const h = start({ msgRate: 20, msgBurst: 40 });
  const closedAt = sendAtRate(h, 30, 60_000);
  assert.ok(closedAt !== undefined && closedAt <= 30_000, `closed at ${closedAt} ms`);
  assert.deepEqual(closes(h.effects), [CloseCodes.rateLimited.code]);
});

test('any rate above MSG_RATE, even 21/s, is closed 4008 within 30 s of its first rate_limited error', () => {
  const h = start({ msgRate: 20, msgBurst: 40 });
  const errorsAt: number[] = [];
  h.actor.on('effect.send', (e) => {
    if ((e as any).message.type === 'error') errorsAt.push(h.clock.now());
  });
  const closedAt = sendAtRate(h, 21, 120_000);
  assert.ok(closedAt !== undefined, 'closed');
  assert.ok(closedAt - errorsAt[0]! <= 30_000, `first error at ${errorsAt[0]}, closed at ${closedAt}`);
  assert.deepEqual(closes(h.effects), [CloseCodes.rateLimited.code]);
});

test('bursts over MSG_BURST followed by rest are answered rate_limited but never closed', () => {
  const h = start({ msgRate: 20, msgBurst: 40 });
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 45; i++) h.actor.send({ type: 'client.message', msg: msg({ op: 'ping' }) });
    for (let i = 0; i < 3; i++) {
      h.clock.increment(1_000);
      h.actor.send({ type: 'client.frame' });
    }
  }
  assert.ok(h.effects.some((e) => e.type === 'effect.send' && e.message.type === 'error' && e.message.code === 'rate_limited'));
  assert.deepEqual(closes(h.effects), []);
  assert.equal(h.actor.getSnapshot().status, 'active');
});

test('a frame the gateway left unread for lack of budget is answered rate_limited and counts toward 4008', () => {
  const h = start({ msgRate: 20, msgBurst: 40 });
  for (let i = 0; i < 40; i++) h.actor.send({ type: 'client.message', msg: msg({ op: 'ping' }) });
  h.actor.send({ type: 'client.unread' });
  const last = h.effects.at(-1)!;
  assert.ok(last.type === 'effect.send' && last.message.type === 'error' && last.message.code === 'rate_limited');
  for (let i = 0; i < 200 && h.actor.getSnapshot().status === 'active'; i++) h.actor.send({ type: 'client.unread' });
  assert.deepEqual(closes(h.effects), [CloseCodes.rateLimited.code]);
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
  actor.send({ type: 'socket.buffered', bytes: 1_001 });
  clock.increment(999);
  actor.send({ type: 'socket.buffered', bytes: 499 });
  clock.increment(5_000);
  assert.deepEqual(closes(effects), []);
  actor.send({ type: 'socket.buffered', bytes: 1_001 });
  clock.increment(999);
  assert.deepEqual(closes(effects), []);
  clock.increment(1);
  assert.deepEqual(closes(effects), [CloseCodes.slowConsumer.code]);
  assert.equal(actor.getSnapshot().status, 'done');
});

test('the conflation hysteresis: a buffer between half the threshold and the threshold changes nothing', () => {
  const { actor, effects, clock } = start({ heartbeatMs: 1_000_000, slowCloseMs: 1_000 });
  actor.send({ type: 'socket.buffered', bytes: 900 });
  assert.ok(actor.getSnapshot().matches({ open: { flow: 'keepingUp' } }));
  actor.send({ type: 'socket.buffered', bytes: 1_001 });
  actor.send({ type: 'socket.buffered', bytes: 600 }); // still above half: still conflating
  assert.ok(actor.getSnapshot().matches({ open: { flow: 'conflating' } }));
  clock.increment(1_000);
  assert.deepEqual(closes(effects), [4009]);
});

test('conflating: the client is told, the socket leaves its topics; caught up: newest values, then live', () => {
  const { actor, effects } = start({ heartbeatMs: 1_000_000 });
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [1, 2], mode: 'ltp' }) });
  effects.length = 0;
  actor.send({ type: 'socket.buffered', bytes: 1_001 });
  assert.deepEqual(effects, [
    { type: 'effect.send', message: { type: 'status', state: 'conflating' } },
    { type: 'effect.conflate', tokens: [1, 2] },
  ]);
  // A subscribe while conflating is recorded and deferred to the catch-up.
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [3], mode: 'full' }) });
  const sub = effects.at(-1);
  assert.ok(sub?.type === 'effect.subscribe' && sub.deferred);
  effects.length = 0;
  actor.send({ type: 'socket.buffered', bytes: 10 });
  assert.equal(effects.length, 2);
  const [catchUp, live] = effects;
  assert.ok(catchUp?.type === 'effect.catchUp');
  assert.deepEqual([...catchUp.subscriptions.keys()], [1, 2, 3]);
  assert.deepEqual(live, { type: 'effect.send', message: { type: 'status', state: 'live' } });
  actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', tokens: [4] }) });
  const after = effects.at(-1);
  assert.ok(after?.type === 'effect.subscribe' && !after.deferred);
});

test('a message over the frame limit closes 1009', () => {
  const { actor, effects } = start();
  actor.send({ type: 'client.oversize' });
  assert.deepEqual(closes(effects), [CloseCodes.tooBig.code]);
  assert.equal(actor.getSnapshot().status, 'done');
});

test('a drain sends shutdown with the reconnect hint, then closes 1001', () => {
  const { actor, effects } = start();
  actor.send({ type: 'server.drain', reconnectAfterMs: 1_234 });
  assert.deepEqual(effects, [
    { type: 'effect.send', message: { type: 'shutdown', reconnect_after_ms: 1_234 } },
    { type: 'effect.close', close: CloseCodes.goingAway },
  ]);
  assert.equal(actor.getSnapshot().status, 'done');
});

test('an operator disconnect closes 1008, and nothing follows a close', () => {
  const { actor, effects, clock } = start();
  actor.send({ type: 'server.close', close: CloseCodes.policy });
  actor.send({ type: 'client.oversize' });
  actor.send({ type: 'server.drain', reconnectAfterMs: 1 });
  clock.increment(100 * H);
  assert.deepEqual(closes(effects), [1008]);
});

/** A machine whose token check answers `outcome` (after the returned resolver is called). */
function withVerifier(outcome: AuthOutcome | Error) {
  const seen: VerifyAccessInput[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const machine = connectionMachine.provide({
    actors: {
      verifyAccess: fromPromise<AuthOutcome, VerifyAccessInput>(async ({ input }) => {
        seen.push(input);
        await gate;
        if (outcome instanceof Error) throw outcome;
        return outcome;
      }),
    },
  });
  return { machine, seen, release };
}

/** A machine with a token check, a quiet heartbeat and a token that expires at 60 s. */
const startWith = (machine: typeof connectionMachine) => start({ heartbeatMs: 1_000_000, expiresAt: 60_000 }, machine);

const sentOf = (effects: ConnectionEmitted[]) => effects.flatMap((e) => (e.type === 'effect.send' ? [e.message] : []));
const settle = () => new Promise((r) => setImmediate(r));

test('in-band auth: a verified token of another session answers auth_ok, moves the session and the expiry', async () => {
  const v = withVerifier({ outcome: 'ok', expiresAt: 500_000, sid: 's2' });
  const { actor, effects, clock } = startWith(v.machine);
  actor.send({ type: 'client.message', msg: msg({ op: 'auth', access_token: 'tok', id: 4 }) });
  v.release();
  await settle();
  assert.deepEqual(v.seen, [{ accessToken: 'tok', userId: 'u1' }]);
  assert.deepEqual(effects.filter((e) => e.type === 'effect.sessionChanged'), [{ type: 'effect.sessionChanged', sid: 's2' }]);
  assert.deepEqual(sentOf(effects).at(-1), { type: 'auth_ok', id: 4, expires_at: 500_000 });
  assert.equal(actor.getSnapshot().context.sid, 's2');
  clock.increment(100_000); // past the first token's expiry
  assert.deepEqual(closes(effects), []);
});

test('in-band auth: a rejected token answers bad_request and the current token keeps its expiry', async () => {
  const v = withVerifier({ outcome: 'rejected' });
  const { actor, effects, clock } = startWith(v.machine);
  actor.send({ type: 'client.message', msg: msg({ op: 'auth', access_token: 'bad', id: 'a' }) });
  v.release();
  await settle();
  const last = sentOf(effects).at(-1);
  assert.ok(last?.type === 'error');
  assert.deepEqual([last.code, last.id], ['bad_request', 'a']);
  clock.increment(60_000);
  assert.deepEqual(closes(effects), [CloseCodes.tokenExpired.code]);
});

test('in-band auth: a dependency failure answers unavailable and the socket stays open', async () => {
  for (const outcome of [{ outcome: 'unavailable' } as const, new Error('redis down')]) {
    const v = withVerifier(outcome);
    const { actor, effects } = startWith(v.machine);
    actor.send({ type: 'client.message', msg: msg({ op: 'auth', access_token: 'tok', id: 1 }) });
    v.release();
    await settle();
    const last = sentOf(effects).at(-1);
    assert.ok(last?.type === 'error');
    assert.equal(last.code, 'unavailable');
    assert.equal(actor.getSnapshot().status, 'active');
    assert.deepEqual(closes(effects), []);
  }
});

test('in-band auth: a second auth while one is being verified is refused; every request is answered', async () => {
  const v = withVerifier({ outcome: 'ok', expiresAt: 90_000, sid: 's1' });
  const { actor, effects } = startWith(v.machine);
  actor.send({ type: 'client.message', msg: msg({ op: 'auth', access_token: 'one', id: 1 }) });
  actor.send({ type: 'client.message', msg: msg({ op: 'auth', access_token: 'two', id: 2 }) });
  v.release();
  await settle();
  const answers = sentOf(effects).map((m) => [m.type, 'id' in m ? m.id : undefined]);
  assert.deepEqual(answers, [['error', 2], ['auth_ok', 1]]);
  assert.equal(effects.some((e) => e.type === 'effect.sessionChanged'), false);
});

test('a connection opened from the shared opening state is the one a fresh start makes: same state, context, first wake and effects after', () => {
  for (const [heartbeatMs, reauthLeadMs, expiresAt] of [[1_000, 30_000, 10_000_000], [60_000, 30_000, 20_000], [5_000, 0, 3_000]] as const) {
    let now = 1_000;
    const input: ConnectionInput = {
      settings: { heartbeatMs, pongTimeoutMs: 500, maxTokens: 5, msgRate: 20, msgBurst: 40, reauthLeadMs, slowCloseMs: 10_000, slowThresholdBytes: 1_000, now: () => now },
      expiresAt, userId: 'u1', sid: 's1',
    };
    const fresh = createActor(connectionMachine, { input });
    const freshWakes: number[] = [];
    const freshEffects: ConnectionEmitted[] = [];
    fresh.on('*', (e) => ((e as ConnectionEmitted).type === 'effect.wake' ? freshWakes.push((e as { at: number }).at) : freshEffects.push(e as ConnectionEmitted)));
    fresh.start();
    const opening = openingSnapshot(input);
    const restored = createActor(connectionMachine, { input, snapshot: opening.snapshot });
    const restoredEffects: ConnectionEmitted[] = [];
    restored.on('*', (e) => { if ((e as ConnectionEmitted).type !== 'effect.wake') restoredEffects.push(e as ConnectionEmitted); });
    restored.start();
    assert.deepEqual(restored.getSnapshot().value, fresh.getSnapshot().value);
    assert.deepEqual(restored.getSnapshot().context, fresh.getSnapshot().context);
    assert.equal(opening.wakeAt, freshWakes.at(-1), 'the first wake the entry actions asked for');
    assert.deepEqual(freshEffects, [], 'a fresh start has no effect but its wake');
    // The same events from here on give the same effects and states.
    const events = [
      { type: 'client.message', msg: msg({ op: 'subscribe', id: 1, tokens: [1, 2], mode: 'quote' }) },
      { type: 'socket.buffered', bytes: 5_000 },
      { type: 'client.message', msg: msg({ op: 'list', id: 2 }) },
      { type: 'socket.buffered', bytes: 10 },
      { type: 'clock.due' },
      { type: 'client.frame' },
    ] as const;
    for (const e of events) {
      now += 700;
      fresh.send(e);
      restored.send(e);
      assert.deepEqual(restored.getSnapshot().value, fresh.getSnapshot().value);
      assert.deepEqual(restored.getSnapshot().context, fresh.getSnapshot().context);
    }
    assert.deepEqual(restoredEffects, freshEffects);
    assert.ok(freshEffects.length >= 4);
  }
});

test('two connections opened from the shared opening state do not share their state', () => {
  const a = start({ userId: 'a' });
  const b = start({ userId: 'b' });
  a.actor.send({ type: 'client.message', msg: msg({ op: 'subscribe', id: 1, tokens: [7], mode: 'full' }) });
  assert.equal(a.actor.getSnapshot().context.subscriptions.size, 1);
  assert.equal(b.actor.getSnapshot().context.subscriptions.size, 0);
  a.actor.send({ type: 'socket.closed' });
  assert.equal(a.actor.getSnapshot().status, 'done');
  assert.equal(b.actor.getSnapshot().status, 'active');
});
