/** The upgrade's Origin rule (§6, ALLOWED_ORIGINS). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { originAllowed } from '../../src/gateway/limits.ts';

test('without an allowlist the origin must name the Host the request was sent to', () => {
  assert.equal(originAllowed('http://127.0.0.1:8080', '127.0.0.1:8080', undefined), true);
  assert.equal(originAllowed('https://Example.COM', 'example.com', undefined), true);
  assert.equal(originAllowed('http://127.0.0.1:8081', '127.0.0.1:8080', undefined), false);
  assert.equal(originAllowed('https://example.com.evil.test', 'example.com', undefined), false);
  assert.equal(originAllowed('http://example.com', '', undefined), false, 'no Host to compare with');
});

test('a request without Origin is not refused for that', () => {
  assert.equal(originAllowed('', '127.0.0.1:8080', undefined), true);
  assert.equal(originAllowed('', '127.0.0.1:8080', ['https://app.example.com']), true);
});

test('opaque and non-web origins match nothing', () => {
  for (const o of ['null', 'file://', 'chrome-extension://abc', 'not a url', 'javascript:alert(1)']) {
    assert.equal(originAllowed(o, 'abc', undefined), false, o);
    assert.equal(originAllowed(o, 'abc', [o]), false, o);
  }
});

test('with an allowlist only its origins match, compared as origins', () => {
  const allowed = ['https://app.example.com', 'http://localhost:3000/'];
  assert.equal(originAllowed('https://app.example.com', 'gw.example.com', allowed), true);
  assert.equal(originAllowed('https://APP.example.com:443', 'gw.example.com', allowed), true, 'default port, case');
  assert.equal(originAllowed('http://localhost:3000', 'gw', allowed), true, 'trailing slash in the list');
  assert.equal(originAllowed('http://app.example.com', 'app.example.com', allowed), false, 'scheme differs');
  assert.equal(originAllowed('https://gw.example.com', 'gw.example.com', allowed), false, 'same host is not enough');
});
