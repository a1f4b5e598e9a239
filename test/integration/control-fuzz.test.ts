/**
 * The control socket under hostile input: ten thousand random, malformed and oversized requests
 * each get exactly one well-formed reply, and the ingester still forwards ticks afterwards.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CONTROL_COMMANDS, MAX_CONTROL_REQUEST_BYTES } from '../../src/protocol/control.ts';
import { controlClient } from '../helpers/control.ts';
import { startSystem, startTestFeed, untilDemand } from '../helpers/system.ts';

const sys = await startSystem({ after });
const feed = await startTestFeed({ after }, sys.feedEndpoint);
const ctl = controlClient({ after }, sys.config.controlBind, 5_000);
// Registered before any socket opens; see the note on uWS upgrades in control.test.ts.
const user = await sys.user();

const RUNS = 10_000;

/** Values that look like tokens, and many that do not. */
const tokenish = fc.oneof(
  fc.integer({ min: 1, max: 4_294_967_295 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 4_294_967_296, 1.5, Number.MAX_SAFE_INTEGER),
  fc.string({ maxLength: 12 }),
  fc.constantFrom(null, true, false),
);

const cmd = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...CONTROL_COMMANDS) },
  { weight: 1, arbitrary: fc.constantFrom('PAUSE', '', ' status', '__proto__', 'constructor', 'toString', 'hasOwnProperty') },
  { weight: 1, arbitrary: fc.string({ maxLength: 16 }) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2 }) },
);

/** Objects shaped roughly like requests: right and wrong commands, fields of every type, extra keys. */
const requestLike = fc
  .record(
    {
      cmd,
      tokens: fc.oneof(fc.array(tokenish, { maxLength: 12 }), fc.anything({ maxDepth: 2 })),
      user: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.-]{3,32}$/), fc.string({ maxLength: 40 }), fc.anything({ maxDepth: 1 })),
      message: fc.oneof(fc.string({ maxLength: 120 }), fc.anything({ maxDepth: 1 })),
      extra: fc.anything({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  )
  .map((o) => JSON.stringify(o));

/** Well-formed requests, so the valid paths run under the same load (users and tokens nobody uses). */
const valid = fc.oneof(
  fc.constant(JSON.stringify({ cmd: 'status' })),
  fc.constant(JSON.stringify({ cmd: 'demand' })),
  fc.array(fc.integer({ min: 900_000_000, max: 900_000_100 }), { minLength: 1, maxLength: 5 })
    .chain((tokens) => fc.constantFrom(
      JSON.stringify({ cmd: 'pause', tokens }),
      JSON.stringify({ cmd: 'resume', tokens }),
      JSON.stringify({ cmd: 'announce', tokens, message: 'fuzz' }),
    )),
  fc.constant(JSON.stringify({ cmd: 'notify', user: 'nobody_here', message: 'fuzz' })),
  fc.constant(JSON.stringify({ cmd: 'disconnect', user: 'nobody_here' })),
);

const protoTricks = fc.constantFrom(
  '{"__proto__":{"cmd":"status"}}',
  '{"cmd":"status","__proto__":{"ok":false}}',
  '{"constructor":{"prototype":{"cmd":"status"}},"cmd":"demand"}',
  '{"cmd":"pause","tokens":[1],"tokens":"all"}',
);

type Input = { frames: string | Buffer | (string | Buffer)[]; oversized: boolean };

const input: fc.Arbitrary<Input> = fc.oneof(
  { weight: 10, arbitrary: requestLike.map((frames) => ({ frames, oversized: false })) },
  { weight: 4, arbitrary: valid.map((frames) => ({ frames, oversized: false })) },
  { weight: 3, arbitrary: fc.json({ maxDepth: 3 }).map((frames) => ({ frames, oversized: false })) },
  { weight: 3, arbitrary: fc.string({ maxLength: 64 }).map((frames) => ({ frames, oversized: false })) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 128 }).map((b) => ({ frames: Buffer.from(b), oversized: false })) },
  { weight: 1, arbitrary: protoTricks.map((frames) => ({ frames, oversized: false })) },
  { weight: 1, arbitrary: fc.array(fc.string({ maxLength: 20 }), { minLength: 2, maxLength: 4 }).map((frames) => ({ frames, oversized: false })) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: MAX_CONTROL_REQUEST_BYTES + 1, max: 3 * MAX_CONTROL_REQUEST_BYTES })
      .map((n) => ({ frames: JSON.stringify({ cmd: 'status', pad: 'x'.repeat(n) }), oversized: true })),
  },
);

test('ten thousand random, malformed and oversized control requests are each answered once; ticks still flow', async () => {
  let answered = 0;
  let refused = 0;
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(input, async ({ frames, oversized }) => {
      const text = await ctl.raw(frames);
      answered++;
      const reply = JSON.parse(text) as Record<string, unknown>;
      assert.equal(typeof reply, 'object');
      assert.equal(typeof reply.ok, 'boolean', text);
      if (reply.ok === false) {
        refused++;
        assert.equal(typeof reply.error, 'string');
        assert.ok((reply.error as string).length > 0 && (reply.error as string).length <= 400, text);
        assert.deepEqual(Object.keys(reply).sort(), ['error', 'ok']);
      }
      if (oversized) assert.match(String(reply.error), /too large/);
    }),
    { numRuns: RUNS },
  );
  assert.equal(answered, RUNS);
  assert.ok(refused > RUNS / 2, `most random input is refused (${refused})`);
  assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);

  // Whatever the fuzz paused, a resume of everything restores live delivery.
  assert.deepEqual(await ctl.send({ cmd: 'resume' }), { ok: true, paused: [] });
  const status = await ctl.send({ cmd: 'status' });
  assert.equal(status.ok, true);
  const T = 123_456;
  const c = await sys.connect(user.access);
  await c.request({ op: 'subscribe', tokens: [T], mode: 'ltp' });
  await untilDemand(sys, T);
  await feed.send(JSON.stringify({ token: T, ltp: 42 }));
  const tick = await c.next((m) => m.type === 'tick' && m.token === T);
  assert.equal(tick.ltp, 42);
});
