import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientIp, trustedProxies } from '../../src/gateway/client-ip.ts';

const proxies = trustedProxies(['10.0.0.0/8', '192.0.2.1']);

test('without TRUST_PROXY the TCP peer is the client, whatever X-Forwarded-For says', () => {
  assert.equal(clientIp('203.0.113.9', '198.51.100.1', undefined), '203.0.113.9');
  assert.equal(clientIp('::ffff:127.0.0.1', '', undefined), '127.0.0.1');
});

test('an untrusted peer\'s X-Forwarded-For is ignored', () => {
  assert.equal(clientIp('203.0.113.9', '198.51.100.1', proxies), '203.0.113.9');
});

test('from a trusted proxy the rightmost untrusted hop is the client; entries the client wrote are not believed', () => {
  assert.equal(clientIp('192.0.2.1', '198.51.100.7', proxies), '198.51.100.7');
  assert.equal(clientIp('192.0.2.1', '1.1.1.1, 198.51.100.7', proxies), '198.51.100.7');
  assert.equal(clientIp('10.1.2.3', '198.51.100.7, 10.0.0.5', proxies), '198.51.100.7', 'a chain of trusted proxies');
});

test('a malformed forwarded header falls back to the proxy\'s address', () => {
  assert.equal(clientIp('192.0.2.1', 'not-an-ip', proxies), '192.0.2.1');
  assert.equal(clientIp('192.0.2.1', '', proxies), '192.0.2.1');
});
