/**
 * One client process of scripts/connect-storm.ts: opens its share of sockets (bounded in-flight),
 * subscribes each to one token, and reports when every `subscribed` ack is in. Sockets stay open
 * (answering pings) until the parent says `exit`.
 */
import WebSocket from 'ws';

interface Job { url: string; tokens: string[]; inFlight: number; subscribeToken: (i: number) => number }
const sockets: WebSocket[] = [];

function connectOne(url: string, token: string, sub: number): Promise<{ ok: boolean; status?: number; code?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url}?access_token=${encodeURIComponent(token)}`, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 30_000 });
    sockets.push(ws);
    let done = false;
    const finish = (r: { ok: boolean; status?: number; code?: number }) => {
      if (done) return;
      done = true;
      resolve(r);
    };
    ws.once('unexpected-response', (_req, res) => finish({ ok: false, status: res.statusCode }));
    ws.on('error', () => finish({ ok: false }));
    ws.on('close', (code) => finish({ ok: false, code }));
    ws.once('open', () => ws.send(`{"op":"subscribe","tokens":[${sub}],"mode":"quote","id":1}`));
    ws.on('message', (data: Buffer) => {
      if (!done && data.includes('"subscribed"')) finish({ ok: true });
    });
  });
}

process.on('message', async (m: { go?: Job & { subBase: number; subCount: number }; exit?: boolean }) => {
  if (m.exit) {
    for (const ws of sockets) ws.terminate();
    process.exit(0);
  }
  if (!m.go) return;
  const { url, tokens, inFlight, subBase, subCount } = m.go;
  const started = Date.now();
  let next = 0;
  let ok = 0;
  const failures: Record<string, number> = {};
  const worker = async () => {
    while (next < tokens.length) {
      const i = next++;
      const r = await connectOne(url, tokens[i]!, subBase + (i % subCount));
      if (r.ok) ok++;
      else {
        const k = r.status ? `http${r.status}` : r.code ? `close${r.code}` : 'error';
        failures[k] = (failures[k] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, tokens.length) }, worker));
  process.send!({ done: { started, ended: Date.now(), ok, failures, cpu: process.cpuUsage() } });
});
process.send!({ ready: true });
