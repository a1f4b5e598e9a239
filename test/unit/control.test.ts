import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReply, parseCtlArgs } from '../../src/ctl/ctl.ts';
import { staleScanEveryMs } from '../../src/ingester/stale-scan.ts';
import { MAX_CONTROL_REQUEST_BYTES, parseControlRequest, readControlReply, readOperatorBroadcast } from '../../src/protocol/control.ts';
import { tokenOfTopic, workerTopic } from '../../src/protocol/topics.ts';

const parse = (v: unknown) => parseControlRequest([Buffer.from(typeof v === 'string' ? v : JSON.stringify(v))]);

test('every verb of the contract parses into a fresh object with only its own fields', () => {
  assert.deepEqual(parse({ cmd: 'pause', tokens: [256265, 256265, 1] }), { ok: true, request: { cmd: 'pause', tokens: [256265, 1] } });
  assert.deepEqual(parse({ cmd: 'pause' }), { ok: true, request: { cmd: 'pause' } });
  assert.deepEqual(parse({ cmd: 'resume', tokens: [4_294_967_295] }), { ok: true, request: { cmd: 'resume', tokens: [4_294_967_295] } });
  assert.deepEqual(parse({ cmd: 'status' }), { ok: true, request: { cmd: 'status' } });
  assert.deepEqual(parse({ cmd: 'demand' }), { ok: true, request: { cmd: 'demand' } });
  assert.deepEqual(parse({ cmd: 'notify', user: 'alice', message: 'hi' }), { ok: true, request: { cmd: 'notify', user: 'alice', message: 'hi' } });
  assert.deepEqual(parse({ cmd: 'announce', tokens: [5], message: 'x' }), { ok: true, request: { cmd: 'announce', tokens: [5], message: 'x' } });
  assert.deepEqual(parse({ cmd: 'disconnect', user: 'a.b-c_d' }), { ok: true, request: { cmd: 'disconnect', user: 'a.b-c_d' } });
});

test('malformed, unknown and oversized requests are refused with a reason, never thrown', () => {
  const refused = [
    'not json', '', '[]', 'null', '42', '{}', '{"cmd":7}', '{"cmd":"launch"}', '{"cmd":"toString"}', '{"cmd":"__proto__"}',
    { cmd: 'pause', tokens: [] }, // empty is not "all": omit the field for that
    { cmd: 'pause', token: [1] }, // a misspelt field must not turn into "pause everything"
    { cmd: 'pause', tokens: [0] }, { cmd: 'pause', tokens: [4_294_967_296] }, { cmd: 'pause', tokens: [1.5] },
    { cmd: 'pause', tokens: ['1'] }, { cmd: 'pause', tokens: 'all' }, { cmd: 'pause', tokens: new Array(10_001).fill(1) },
    { cmd: 'status', extra: true }, { cmd: 'notify', user: 'al', message: 'hi' }, { cmd: 'notify', user: 'alice', message: '  ' },
    { cmd: 'notify', user: 'alice', message: 'x'.repeat(2_001) }, { cmd: 'notify', user: 'alice' },
    { cmd: 'announce', message: 'x' }, { cmd: 'disconnect', user: ['alice'] },
    '{"__proto__":{"cmd":"status"}}', '{"cmd":"status","__proto__":{}}',
  ];
  for (const r of refused) {
    const p = parse(r);
    assert.equal(p.ok, false, JSON.stringify(r));
    if (!p.ok) assert.ok(p.error.length > 0 && p.error.length <= 300);
  }
  const big = parse(JSON.stringify({ cmd: 'status', pad: 'x'.repeat(MAX_CONTROL_REQUEST_BYTES) }));
  assert.deepEqual(big, { ok: false, error: `request too large (at most ${MAX_CONTROL_REQUEST_BYTES} bytes)` });
  assert.equal(parseControlRequest([Buffer.from('{"cmd":"status"}'), Buffer.from('x')]).ok, false);
  assert.equal(parseControlRequest([Buffer.from([0x7b, 0xff, 0x7d])]).ok, false, 'invalid UTF-8');
});

test('a misspelt field is named in the reason', () => {
  const p = parse({ cmd: 'pause', token: [1] });
  assert.ok(!p.ok && /token/.test(p.error));
});

test('operator broadcasts are read field by field; anything else is ignored', () => {
  assert.deepEqual(readOperatorBroadcast({ type: 'notify', user: 'alice', message: 'm' }), { type: 'notify', user: 'alice', message: 'm' });
  assert.deepEqual(readOperatorBroadcast({ type: 'announce', tokens: [1, 2], message: 'm' }), { type: 'announce', tokens: [1, 2], message: 'm' });
  assert.deepEqual(readOperatorBroadcast({ type: 'disconnect', user: 'alice' }), { type: 'disconnect', user: 'alice' });
  assert.equal(readOperatorBroadcast({ type: 'announce', tokens: [0], message: 'm' }), undefined);
  assert.equal(readOperatorBroadcast({ type: 'notify', user: 1, message: 'm' }), undefined);
  assert.equal(readOperatorBroadcast({ type: 'reboot' }), undefined);
});

test('worker topics never look like token topics', () => {
  const t = workerTopic('0a1b2c3d');
  assert.equal(t[0], 0x77);
  assert.equal(tokenOfTopic(t), undefined);
  assert.equal(tokenOfTopic(workerTopic('abcd')), undefined, 'even at the token topic length');
});

test('the stale scan runs often enough for STALE_MS and never busier than every 10 ms', () => {
  assert.equal(staleScanEveryMs(5_000), 1_000);
  assert.equal(staleScanEveryMs(300), 75);
  assert.equal(staleScanEveryMs(10), 10);
  assert.equal(staleScanEveryMs(86_400_000), 1_000);
});

test('ctl turns its command line into the contract request', () => {
  const ok = (argv: string[]) => {
    const p = parseCtlArgs(argv);
    assert.equal(p.ok, true, JSON.stringify(p));
    return p.ok === true ? p.value : assert.fail();
  };
  assert.deepEqual(ok(['pause', '256265', '260105']).request, { cmd: 'pause', tokens: [256265, 260105] });
  assert.deepEqual(ok(['pause']).request, { cmd: 'pause' });
  assert.deepEqual(ok(['resume']).request, { cmd: 'resume' });
  assert.deepEqual(ok(['status']).request, { cmd: 'status' });
  assert.deepEqual(ok(['demand']).request, { cmd: 'demand' });
  assert.deepEqual(ok(['notify', 'alice', 'market', 'opens', 'late']).request, { cmd: 'notify', user: 'alice', message: 'market opens late' });
  assert.deepEqual(ok(['announce', '256265', '1', 'halted at 10:02']).request, { cmd: 'announce', tokens: [256265, 1], message: 'halted at 10:02' });
  assert.deepEqual(ok(['disconnect', 'alice']).request, { cmd: 'disconnect', user: 'alice' });
  const v = ok(['status', '--json', '--endpoint', 'ipc:///tmp/x.sock', '--timeout=250']);
  assert.deepEqual([v.json, v.endpoint, v.timeoutMs], [true, 'ipc:///tmp/x.sock', 250]);
  assert.equal(ok(['status']).timeoutMs, 3_000);
  assert.deepEqual(ok(['notify', 'alice', '--', '--not-a-flag']).request, { cmd: 'notify', user: 'alice', message: '--not-a-flag' });
  assert.deepEqual(ok(['announce', '5', 'down', '-2%', '-']).request, { cmd: 'announce', tokens: [5], message: 'down -2% -' });
  assert.deepEqual(ok(['--json', 'status']).json, true, 'options may come before the verb');
});

test('ctl refuses bad command lines before sending anything', () => {
  for (const argv of [[], ['launch'], ['pause', 'abc'], ['pause', '0'], ['status', 'extra'], ['notify', 'alice'],
    ['announce', 'hello'], ['announce', '1'], ['disconnect'], ['disconnect', 'a', 'b'], ['status', '--timeout', '0'],
    ['status', '--endpoint', 'http://x'], ['status', '--bogus'], ['status', '--bogus=1'], ['status', '--endpoint'],
    ['status', '--timeout', '--json'], ['status', '--json=yes']]) {
    assert.equal(parseCtlArgs(argv).ok, false, argv.join(' '));
  }
  assert.equal(parseCtlArgs(['--help']).ok, 'help');
});

test('ctl output reads as sentences and tables', () => {
  assert.equal(formatReply({ cmd: 'pause' }, { ok: true, paused: 'all' }), 'paused: all');
  assert.equal(formatReply({ cmd: 'resume' }, { ok: true, paused: [] }), 'paused: none');
  assert.equal(formatReply({ cmd: 'pause' }, { ok: true, paused: [1, 2] }), 'paused: 1 2');
  assert.equal(
    formatReply({ cmd: 'status' }, { ok: true, paused: [5], tokens: 3, ticks_in: 10, ticks_out: 9, workers: 2 }),
    'paused     5\ntokens     3\nticks in   10\nticks out  9\nworkers    2',
  );
  assert.equal(formatReply({ cmd: 'demand' }, { ok: true, tokens: [] }), 'no token has subscribers');
  assert.equal(formatReply({ cmd: 'demand' }, { ok: true, tokens: [1, 2] }), '2 token(s) with subscribers: 1 2');
  assert.equal(formatReply({ cmd: 'notify', user: 'alice', message: 'hi' }, { ok: true }), 'notice sent to every socket of alice');
  assert.equal(formatReply({ cmd: 'announce', tokens: [1, 2], message: 'hi' }, { ok: true }), 'notice sent to every subscriber of 1 2');
  assert.equal(formatReply({ cmd: 'disconnect', user: 'alice' }, { ok: true }), 'closing every socket of alice (1008)');
});

test('a control reply is read as the reply to its command or a refusal; anything else is unreadable', () => {
  assert.deepEqual(readControlReply('pause', { ok: true, paused: 'all' }), { ok: true, paused: 'all' });
  assert.deepEqual(readControlReply('demand', { ok: true, tokens: [1], later: 'field' }), { ok: true, tokens: [1] });
  assert.deepEqual(readControlReply('status', { ok: false, error: 'no' }), { ok: false, error: 'no' });
  for (const [cmd, v] of [['status', { ok: true, paused: [] }], ['pause', { ok: true }], ['notify', { ok: 'yes' }],
    ['demand', { ok: true, tokens: 'all' }], ['resume', { ok: false }], ['disconnect', null]] as const) {
    assert.equal(readControlReply(cmd, v), undefined, JSON.stringify([cmd, v]));
  }
});
