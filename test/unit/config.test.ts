import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, configTableMarkdown, load, readConfigFiles, schema } from '../../config/index.ts';

test('defaults match the contract', () => {
  const c = load({});
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8080);
  assert.equal(c.workers, os.availableParallelism());
  assert.equal(c.redisUrl, undefined);
  assert.deepEqual(c.feedEndpoints, ['tcp://127.0.0.1:5555']);
  assert.equal(c.ingestBind, 'tcp://127.0.0.1:5556');
  assert.equal(c.controlBind, 'tcp://127.0.0.1:5557');
  assert.equal(c.simTokens, 50);
  assert.equal(c.simRate, 500);
  assert.equal(c.heartbeatMs, 20_000);
  assert.equal(c.pongTimeoutMs, 10_000);
  assert.equal(c.staleMs, 5_000);
  assert.equal(c.accessTtlS, 900);
  assert.equal(c.refreshTtlS, 2_592_000);
  assert.equal(c.reauthLeadMs, 30_000);
  assert.equal(c.maxTokensPerSocket, 3_000);
  assert.equal(c.maxSocketsPerUser, 20);
  assert.equal(c.msgRate, 20);
  assert.equal(c.msgBurst, 40);
  assert.deepEqual(c.loginLimitPerMin, { perUser: 10, perIp: 100 });
  assert.equal(c.connRatePerIp, 1_000);
  assert.equal(c.bodyLimitBytes, 16_384);
  assert.equal(c.drainMs, 10_000);
  assert.equal(c.slowCloseMs, 10_000);
  assert.equal(c.historySize, 1_000);
  assert.equal(c.logLevel, 'info');
  assert.equal(c.feedSimulator, true);
  assert.equal(c.allowedOrigins, undefined);
});

test('the result is frozen', () => {
  const c = load({});
  assert.ok(Object.isFrozen(c));
  assert.throws(() => {
    (c as { port: number }).port = 1;
  });
});

test('environment values are parsed and validated', () => {
  const c = load({ PORT: '9000', FEED_ENDPOINTS: 'tcp://a:1, ipc:///tmp/b', ALLOWED_ORIGINS: 'https://a.example,https://b.example', LOGIN_LIMIT_PER_MIN: '5,50', FEED_SIMULATOR: 'off' });
  assert.equal(c.port, 9000);
  assert.deepEqual(c.feedEndpoints, ['tcp://a:1', 'ipc:///tmp/b']);
  assert.deepEqual(c.allowedOrigins, ['https://a.example', 'https://b.example']);
  assert.deepEqual(c.loginLimitPerMin, { perUser: 5, perIp: 50 });
  assert.equal(c.feedSimulator, false);
});

test('every invalid value is reported at once, each naming its variable', () => {
  let err: unknown;
  try {
    load({ PORT: 'eighty', WORKERS: '0', FEED_BIND: 'localhost:5555', JWT_SECRET: 'short', LOG_LEVEL: 'loud', REDIS_URL: 'http://x' });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  const vars = err.problems.map((p) => p.split(':')[0]);
  assert.deepEqual(vars.sort(), ['FEED_BIND', 'JWT_SECRET', 'LOG_LEVEL', 'PORT', 'REDIS_URL', 'WORKERS']);
});

test('JWT_SECRET is required in production', () => {
  assert.throws(() => load({ NODE_ENV: 'production' }), (e: unknown) => e instanceof ConfigError && /^JWT_SECRET/.test(e.problems[0]!));
  assert.equal(load({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32) }).jwtSecret, 'x'.repeat(32));
});

test('config files are read, and the environment overrides them', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-config-'));
  fs.writeFileSync(path.join(dir, 'tickgate.json'), JSON.stringify({ PORT: 9100, SIM_RATE: '1000' }));
  fs.writeFileSync(path.join(dir, 'local.json'), JSON.stringify({ SIM_RATE: 2000 }));
  const files = readConfigFiles(dir);
  assert.equal(load({}, files).port, 9100);
  assert.equal(load({}, files).simRate, 2000);
  assert.equal(load({ PORT: '9200' }, files).port, 9200);
  fs.writeFileSync(path.join(dir, 'local.json'), '{oops');
  assert.throws(() => readConfigFiles(dir), ConfigError);
  fs.rmSync(dir, { recursive: true });
});

test('every contract variable is in the schema', () => {
  const envs = Object.values(schema).map((s) => s.env);
  for (const v of ['HOST', 'PORT', 'WORKERS', 'REDIS_URL', 'JWT_SECRET', 'FEED_SIMULATOR', 'FEED_BIND', 'FEED_ENDPOINTS', 'INGEST_BIND', 'CONTROL_BIND', 'SIM_TOKENS', 'SIM_RATE', 'HEARTBEAT_MS', 'PONG_TIMEOUT_MS', 'STALE_MS', 'ALLOWED_ORIGINS', 'ACCESS_TTL_S', 'REFRESH_TTL_S', 'REAUTH_LEAD_MS', 'MAX_TOKENS_PER_SOCKET', 'MAX_SOCKETS_PER_USER', 'MSG_RATE', 'MSG_BURST', 'LOGIN_LIMIT_PER_MIN', 'CONN_RATE_PER_IP', 'BODY_LIMIT_BYTES', 'DRAIN_MS', 'SLOW_CLOSE_MS', 'HISTORY_SIZE', 'LOG_LEVEL']) {
    assert.ok(envs.includes(v), `${v} missing from the schema`);
  }
});

test('the README config table is the one generated from the schema', () => {
  const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes(configTableMarkdown()), 'README.md config table is out of date: paste configTableMarkdown() output (npm run docs:config)');
});

test('the security settings have the contract defaults', () => {
  const c = load({});
  assert.equal(c.registerLimitPerMin, 10);
  assert.equal(c.trustProxy, undefined);
  assert.equal(c.sessionMaxAgeS, 2_592_000);
  assert.equal(c.refreshGraceMs, 2_000);
});

test('ALLOWED_ORIGINS entries must be origins: a scheme and a host; `*` and bare hosts are refused by name', () => {
  assert.deepEqual(load({ ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:3000' }).allowedOrigins,
    ['https://app.example.com', 'http://localhost:3000']);
  for (const bad of ['*', 'app.example.com', 'https://app.example.com/path', 'ftp://x.example', 'https://*.example.com', 'null']) {
    assert.throws(() => load({ ALLOWED_ORIGINS: bad }), (e: unknown) => e instanceof ConfigError && /ALLOWED_ORIGINS/.test(e.message), bad);
  }
});

test('TRUST_PROXY takes addresses and CIDRs, and names itself when an entry is bad', () => {
  assert.deepEqual(load({ TRUST_PROXY: '10.0.0.1, 10.0.0.0/8,fd00::/8' }).trustProxy, ['10.0.0.1', '10.0.0.0/8', 'fd00::/8']);
  for (const bad of ['proxy.local', '10.0.0.0/33', '10.0.0.1/8/2']) {
    assert.throws(() => load({ TRUST_PROXY: bad }), (e: unknown) => e instanceof ConfigError && /TRUST_PROXY/.test(e.message), bad);
  }
});
