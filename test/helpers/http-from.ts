/** HTTP requests from a chosen loopback source address (127.0.0.x), for the per-IP limits. */
import http from 'node:http';
import type { System } from './system.ts';
import { withTimeout } from './wait.ts';

export interface FromResponse { status: number; headers: http.IncomingHttpHeaders; body: any; ms: number }

/** One request on a fresh connection from `ip` to the system's first gateway; `ms` is its duration. */
export function httpFrom(ip: string, s: System, method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = 15_000): Promise<FromResponse> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const t0 = performance.now();
  return withTimeout(new Promise<FromResponse>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: s.gateways[0]!.port, method, path, localAddress: ip, agent: false,
      headers: { ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }), ...headers },
    }, (res) => {
      let text = '';
      res.on('data', (b: Buffer) => (text += b.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end(payload);
  }), timeoutMs, `${method} ${path}`);
}
