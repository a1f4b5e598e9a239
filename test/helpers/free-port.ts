/** A TCP port that was free a moment ago, for tests that restart a gateway on the same port. */
import net from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A `fetch` that opens a fresh connection per request. The global fetch pools keep-alive
 * connections, and a stopped gateway keeps answering on the ones it already has (with its Redis
 * gone: 503), so a test that restarts a gateway on one port must not reuse them.
 */
export const freshFetch: typeof fetch = async (input, init) => {
  const { httpRequest } = await import('./system.ts');
  const u = new URL(String(input));
  const headers: Record<string, string> = {};
  new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
  const r = await httpRequest(Number(u.port), init?.method ?? 'GET', u.pathname + u.search, headers, init?.body === undefined || init.body === null ? undefined : String(init.body));
  return new Response(r.status === 204 ? null : r.text, { status: r.status, headers: r.headers });
};
