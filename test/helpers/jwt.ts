/** Hand-made JWTs for attack tests: each differs from a valid token in one way. */
import { SignJWT, base64url } from 'jose';
import { TEST_JWT_SECRET } from './system.ts';

const key = (s = TEST_JWT_SECRET) => new TextEncoder().encode(s);

export interface Forge {
  sub: string;
  sid: string;
  secret?: string;
  iat?: number;
  exp?: number | null;
  iss?: string;
  aud?: string;
  typ?: string | null;
  alg?: 'HS256' | 'HS384' | 'HS512';
  omit?: ('sub' | 'sid' | 'iat')[];
}

export async function forge(f: Forge): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {};
  if (!f.omit?.includes('sid')) claims.sid = f.sid;
  let j = new SignJWT(claims).setProtectedHeader({ alg: f.alg ?? 'HS256', ...(f.typ === null ? {} : { typ: f.typ ?? 'JWT' }) });
  if (!f.omit?.includes('sub')) j = j.setSubject(f.sub);
  j = j.setIssuer(f.iss ?? 'tickgate').setAudience(f.aud ?? 'tickgate');
  if (!f.omit?.includes('iat')) j = j.setIssuedAt(f.iat ?? now);
  if (f.exp !== null) j = j.setExpirationTime(f.exp ?? now + 600);
  return j.sign(key(f.secret));
}

/** An unsigned token: header {"alg":"none"} and an empty signature. */
export function unsigned(payload: Record<string, unknown>): string {
  const enc = (o: object) => base64url.encode(JSON.stringify(o));
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(payload)}.`;
}

/** The claims of a real token, read without verifying (to forge variants of it). */
export function claimsOf(token: string): { sub: string; sid: string; exp: number; iat: number } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
}
