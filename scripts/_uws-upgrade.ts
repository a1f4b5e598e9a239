import { uws } from '../src/gateway/uws.ts';
import WebSocket from 'ws';
const mode = process.argv[2] ?? 'carrier';
const N = Number(process.argv[3] ?? 3000);
const app = uws.App();
let any: any;
const socks = new Set<any>();
let upgradeNs = 0n;
app.ws('/ws', {
  idleTimeout: 0,
  upgrade: (res: any, req: any, ctx: any) => {
    const key = req.getHeader('sec-websocket-key'); const p = req.getHeader('sec-websocket-protocol'); const e = req.getHeader('sec-websocket-extensions');
    let aborted = false; res.onAborted(() => { aborted = true; });
    setImmediate(() => {
      if (aborted) return;
      const t = process.hrtime.bigint();
      const up = () => res.upgrade({ a: 1 }, key, p, e, ctx);
      if (mode === 'carrier' && any) any.cork(() => res.cork(up));
      else if (mode === 'carrier2' && any) any.cork(up);
      else if (mode === 'sync') up();
      else res.cork(up);
      upgradeNs += process.hrtime.bigint() - t;
    });
  },
  open: (ws: any) => { socks.add(ws); any ??= ws; },
  close: (ws: any) => { socks.delete(ws); if (any === ws) any = socks.values().next().value; },
});
app.listen('127.0.0.1', 0, async (s: any) => {
  const port = uws.us_socket_local_port(s);
  const c0 = process.cpuUsage();
  const t0 = Date.now();
  let opened = 0;
  await new Promise<void>((resolve) => {
    let next = 0;
    const one = () => { if (next >= N) return; next++; const w = new WebSocket(`ws://127.0.0.1:${port}/ws`); w.on('open', () => { opened++; if (opened === N) resolve(); one(); }); w.on('error', (e) => console.error(e.message)); };
    for (let i = 0; i < 100; i++) one();
  });
  const c = process.cpuUsage(c0);
  console.log(mode, N, 'wall', Date.now() - t0, 'ms; upgrade() total', Number(upgradeNs / 1000000n), 'ms; cpu(all, incl. clients)', ((c.user + c.system) / 1000).toFixed(0), 'ms');
  process.exit(0);
});
