/**
 * HTTP plumbing over uWS responses: bounded JSON bodies, coded JSON errors, and the uWS rules
 * that bite — a response may be aborted at any time (never touch it after), and writes after an
 * await must be corked.
 */
import type { HttpResponse } from './uws.ts';
import { ErrorCodes, type ErrorCode } from '../protocol/error-codes.ts';
import { countHttpError } from './event-counts.ts';

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK', 201: '201 Created', 204: '204 No Content', 400: '400 Bad Request', 401: '401 Unauthorized',
  403: '403 Forbidden', 404: '404 Not Found', 405: '405 Method Not Allowed', 409: '409 Conflict',
  413: '413 Payload Too Large', 415: '415 Unsupported Media Type', 429: '429 Too Many Requests',
  500: '500 Internal Server Error', 503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}

/** Tracks abortion; create it synchronously in the route handler, before any await. */
export class Reply {
  aborted = false;
  done = false;

  constructor(readonly res: HttpResponse) {
    res.onAborted(() => {
      this.aborted = true;
    });
  }

  json(status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.write(status, body === undefined ? undefined : JSON.stringify(body), 'application/json', headers);
  }

  error(code: ErrorCode, message?: string, headers: Record<string, string> = {}): void {
    const e = ErrorCodes[code];
    countHttpError(code);
    this.json(e.status, { error: { code, message: message ?? e.message } }, headers);
  }

  /** A non-JSON body (the dashboard's page and script). */
  text(status: number, body: string, contentType: string, headers: Record<string, string> = {}): void {
    this.write(status, body, contentType, headers);
  }

  private write(status: number, body: string | undefined, contentType: string, headers: Record<string, string>): void {
    if (this.aborted || this.done) return;
    this.done = true;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status));
      if (body !== undefined) this.res.writeHeader('content-type', contentType);
      this.res.writeHeader('cache-control', 'no-store');
      this.res.writeHeader('x-content-type-options', 'nosniff');
      for (const [k, v] of Object.entries(headers)) this.res.writeHeader(k, v);
      this.res.end(body ?? '');
    });
  }
}

export type BodyResult = { ok: true; value: unknown } | { ok: false; code: ErrorCode; message?: string };

/**
 * Reads a JSON body of at most `limit` bytes. `contentType` and `contentLength` are the request's
 * headers, copied out of the request before any await.
 */
export function readJsonBody(reply: Reply, contentType: string, contentLength: string, limit: number): Promise<BodyResult> {
  if (contentLength !== '' && Number(contentLength) > limit) {
    return Promise.resolve({ ok: false, code: 'body_too_large' });
  }
  // A missing Content-Type is refused too: a cross-site HTML form can post text/plain or an
  // urlencoded body without a CORS preflight, but never application/json.
  if (!/^application\/json\s*(;|$)/i.test(contentType.trim())) {
    return Promise.resolve({ ok: false, code: 'unsupported_media_type' });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    reply.res.onData((chunk, isLast) => {
      if (!over) {
        size += chunk.byteLength;
        if (size > limit) over = true;
        // The chunk's ArrayBuffer is neutered after this callback returns: copy it.
        else chunks.push(Buffer.from(new Uint8Array(chunk)));
      }
      if (!isLast) return;
      if (over) return resolve({ ok: false, code: 'body_too_large' });
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve({ ok: false, code: 'invalid_body', message: 'a JSON body is required' });
      try {
        resolve({ ok: true, value: JSON.parse(text) });
      } catch {
        resolve({ ok: false, code: 'invalid_body', message: 'the body is not valid JSON' });
      }
    });
  });
}

export function bearerToken(authorization: string): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return m?.[1];
}
