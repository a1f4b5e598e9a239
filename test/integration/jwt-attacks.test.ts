/**
 * Every way of bending an access token is refused, the same way on both doors: HTTP 401 on
 * `GET /api/me` and HTTP 401 on the WebSocket upgrade (no socket).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, exportSPKI, generateKeyPair } from 'jose';
import { startSystem, TEST_JWT_SECRET } from '../helpers/system.ts';
import { claimsOf, forge, unsigned } from '../helpers/jwt.ts';
import { TestClient } from '../helpers/ws-client.ts';

const sys = await startSystem({ after });
const u = await sys.user();
const { sub, sid } = claimsOf(u.access);
const now = () => Math.floor(Date.now() / 1000);
const rsa = await generateKeyPair('RS256', { extractable: true });
const publicPem = await exportSPKI(rsa.publicKey);

function upgradeStatus(token: string, via: 'query' | 'header'): Promise<number | 'open'> {
  return via === 'query'
    ? TestClient.upgradeStatus(`${sys.wsUrl}?access_token=${encodeURIComponent(token)}`)
    : TestClient.upgradeStatus(sys.wsUrl, { authorization: `Bearer ${token}` });
}

const standard = () => ({ sid, iss: 'tickgate', aud: 'tickgate', iat: now(), exp: now() + 600 });

const attacks: [string, () => Promise<string>][] = [
  ['alg none', async () => unsigned({ sub, ...standard() })],
  ['alg none with a signature left on', async () => `${unsigned({ sub, ...standard() })}${u.access.split('.')[2]}`],
  ['RS256 signed with an attacker key pair', () =>
    new SignJWT({ sid }).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setSubject(sub).setIssuer('tickgate')
      .setAudience('tickgate').setIssuedAt().setExpirationTime('10m').sign(rsa.privateKey)],
  ['HS256 keyed with the RSA public key PEM (key confusion)', () => forge({ sub, sid, secret: publicPem })],
  ['HS512 with the right secret (another algorithm)', () => forge({ sub, sid, alg: 'HS512' })],
  ['a bad signature', () => forge({ sub, sid, secret: 'another-secret-another-secret-0123456789' })],
  ['a tampered payload', async () => {
    const [h, , s] = u.access.split('.');
    const p = Buffer.from(JSON.stringify({ ...claimsOf(u.access), exp: now() + 86_400 })).toString('base64url');
    return `${h}.${p}.${s}`;
  }],
  ['an expired token', () => forge({ sub, sid, iat: now() - 1200, exp: now() - 300 })],
  ['no exp', () => forge({ sub, sid, exp: null })],
  ['no iat', () => forge({ sub, sid, omit: ['iat'] })],
  ['an iat in the future', () => forge({ sub, sid, iat: now() + 3600, exp: now() + 4200 })],
  ['an iat older than the access lifetime', () => forge({ sub, sid, iat: now() - sys.config.accessTtlS - 60, exp: now() + 600 })],
  ['no sub', () => forge({ sub, sid, omit: ['sub'] })],
  ['no sid', () => forge({ sub, sid, omit: ['sid'] })],
  ['a wrong issuer', () => forge({ sub, sid, iss: 'someone-else' })],
  ['a wrong audience', () => forge({ sub, sid, aud: 'someone-else' })],
  ['a wrong typ', () => forge({ sub, sid, typ: 'at+jwt' })],
  ['no typ', () => forge({ sub, sid, typ: null })],
  ['a session that never existed', () => forge({ sub, sid: '00000000-0000-4000-8000-000000000000' })],
  ['another user\'s id on this session', () => forge({ sub: '00000000-0000-4000-8000-000000000000', sid })],
  ['a token of a logged-out session', async () => {
    const v = await sys.user();
    const r = await sys.http('POST', '/api/auth/logout', undefined, v.access);
    assert.equal(r.status, 204);
    return v.access;
  }],
  ['garbage', async () => 'a.b.c'],
];

test('the genuine token is accepted on both doors (the attacks below differ from it in one way)', async () => {
  assert.equal((await sys.http('GET', '/api/me', undefined, u.access)).status, 200);
  assert.equal(await upgradeStatus(u.access, 'query'), 'open');
  assert.equal(await upgradeStatus(await forge({ sub, sid }), 'header'), 'open');
});

for (const [what, make] of attacks) {
  test(`${what}: 401 on /api/me and on the upgrade`, async () => {
    const token = await make();
    const me = await sys.http('GET', '/api/me', undefined, token);
    assert.equal(me.status, 401);
    assert.equal(me.body.error.code, 'unauthorized');
    assert.equal(me.headers.get('www-authenticate'), 'Bearer');
    assert.equal(await upgradeStatus(token, 'query'), 401);
    assert.equal(await upgradeStatus(token, 'header'), 401);
  });
}

test('a token outside a Bearer header is not accepted', async () => {
  for (const authorization of [u.access, `Basic ${u.access}`, `Bearer`, `Bearer ${u.access} extra`]) {
    const r = await fetch(`${sys.baseUrl}/api/me`, { headers: { authorization } });
    assert.equal(r.status, 401, authorization.slice(0, 20));
  }
});

test('the secret used in tests is the one the gateway signs with (so the forgeries above are meaningful)', async () => {
  assert.equal((await sys.http('GET', '/api/me', undefined, await forge({ sub, sid, secret: TEST_JWT_SECRET }))).status, 200);
});
