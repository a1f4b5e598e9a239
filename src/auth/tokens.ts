/**
 * Access tokens: JWT HS256 via jose (§5). Verification pins everything an attacker could vary:
 * algorithm, `typ`, issuer, audience, required claims, maximum age and clock tolerance. jose's
 * errors are mapped to our own reasons here; their text never reaches a client.
 */
import { SignJWT, jwtVerify, errors } from 'jose';

export const JWT_ISSUER = 'tickgate';
export const JWT_AUDIENCE = 'tickgate';
const CLOCK_TOLERANCE_S = 5;

export interface AccessClaims { sub: string; sid: string; iat: number; exp: number }

export type VerifyResult =
  | { ok: true; claims: AccessClaims; expiresAt: number }
  | { ok: false; reason: 'expired' | 'invalid' };

export class AccessTokens {
  private readonly key: Uint8Array<ArrayBuffer>;
  /**
   * The same key imported once for verification: handed raw bytes, jose imports a key on every
   * verify, which was most of its cost (a connect storm verifies one token per socket).
   */
  private readonly verifyKey: Promise<CryptoKey>;

  constructor(secret: string, private readonly ttlS: number) {
    this.key = new TextEncoder().encode(secret);
    this.verifyKey = crypto.subtle.importKey('raw', this.key, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  }

  async issue(userId: string, sid: string): Promise<{ token: string; expiresAt: number; expiresIn: number }> {
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + this.ttlS;
    const token = await new SignJWT({ sid })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(JWT_ISSUER)
      .setAudience(JWT_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: exp * 1000, expiresIn: this.ttlS };
  }

  async verify(token: string): Promise<VerifyResult> {
    try {
      const { payload } = await jwtVerify(token, await this.verifyKey, {
        algorithms: ['HS256'],
        typ: 'JWT',
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
        requiredClaims: ['exp', 'iat', 'sub', 'sid'],
        maxTokenAge: this.ttlS + CLOCK_TOLERANCE_S,
        clockTolerance: CLOCK_TOLERANCE_S,
      });
      if (typeof payload.sid !== 'string' || typeof payload.sub !== 'string') return { ok: false, reason: 'invalid' };
      const claims: AccessClaims = { sub: payload.sub, sid: payload.sid, iat: payload.iat!, exp: payload.exp! };
      return { ok: true, claims, expiresAt: claims.exp * 1000 };
    } catch (err) {
      if (err instanceof errors.JWTExpired) return { ok: false, reason: 'expired' };
      return { ok: false, reason: 'invalid' };
    }
  }
}
