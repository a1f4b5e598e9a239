import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, load, schema } from '../../config/index.ts';
import { ROLE_SETTINGS } from '../../config/roles.ts';

const problemVars = (fn: () => unknown) => {
  try {
    fn();
    return [];
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.problems.map((p) => p.split(':')[0]);
  }
};

test('in production the feed and the ingester start without JWT_SECRET; the gateway and start need it', () => {
  assert.deepEqual(problemVars(() => load({ NODE_ENV: 'production' }, {}, 'feed')), []);
  assert.deepEqual(problemVars(() => load({ NODE_ENV: 'production' }, {}, 'ingester')), []);
  assert.deepEqual(problemVars(() => load({ NODE_ENV: 'production' }, {}, 'gateway')), ['JWT_SECRET']);
  assert.deepEqual(problemVars(() => load({ NODE_ENV: 'production' }, {}, 'start')), ['JWT_SECRET']);
});

test("a role is stopped only by a bad value of its own settings", () => {
  const env = { PORT: 'eighty', FEED_BIND: 'localhost:5555', HEARTBEAT_MS: 'often', CONTROL_BIND: 'nowhere' };
  assert.deepEqual(problemVars(() => load(env, {}, 'feed')), ['FEED_BIND']);
  assert.deepEqual(problemVars(() => load(env, {}, 'ingester')), ['CONTROL_BIND']);
  assert.deepEqual(problemVars(() => load(env, {}, 'gateway')).sort(), ['HEARTBEAT_MS', 'PORT']);
  assert.deepEqual(problemVars(() => load(env, {}, 'ctl')), ['CONTROL_BIND']);
  assert.deepEqual(problemVars(() => load(env, {}, 'start')).sort(), ['CONTROL_BIND', 'FEED_BIND', 'HEARTBEAT_MS', 'PORT']);
  // A setting the role ignores keeps its default.
  assert.equal(load({ PORT: 'eighty' }, {}, 'feed').port, 8080);
});

test('every setting a role lists exists in the schema', () => {
  for (const [role, keys] of Object.entries(ROLE_SETTINGS)) for (const k of keys) assert.ok(k in schema, `${role}: ${k}`);
});
