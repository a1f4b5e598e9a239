import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isNativeUws } from '../../src/gateway/uws.ts';

test('the native uWebSockets.js addon is the one in use', () => {
  assert.equal(isNativeUws(), true);
});

test('start-up refuses the slow fallback loudly', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', "import('./src/gateway/uws.ts').then((m) => m.assertNativeUws())"], {
    env: { ...process.env, UWS_USE_FALLBACK: '1' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /native addon did not load/);
});
