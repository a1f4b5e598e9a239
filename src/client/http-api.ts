/**
 * The gateway's HTTP API as one call: JSON in, JSON out, and every failure turned into a
 * TickgateError the caller can act on. Uses the `fetch` it is given, so it runs in browsers and Node.
 */
import { TickgateError } from './error.ts';

export type ApiCall = (method: string, path: string, body?: unknown, bearer?: string) => Promise<{ status: number; body: any }>;

export function httpApi(base: string, fetchFn: typeof fetch): ApiCall {
  return async (method, path, body, bearer) => {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    let res: Response;
    try {
      res = await fetchFn(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new TickgateError('unreachable', `cannot reach ${base}: ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`);
    }
    const text = await res.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    if (res.status >= 400) {
      const e = parsed?.error;
      const retry = res.headers.get('retry-after');
      const message = (e?.message ?? `HTTP ${res.status}`) + (retry ? ` (retry after ${retry} s)` : '');
      throw new TickgateError(typeof e?.code === 'string' ? e.code : `http_${res.status}`, message, res.status);
    }
    return { status: res.status, body: parsed };
  };
}
