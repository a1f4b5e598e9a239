/**
 * What an unfinished fragmented message costs the gateway (security issue, finding 4): N sockets
 * each send fragments of a message that never ends, staying just under the 64 KiB limit, and keep
 * answering pings. Prints the gateway's RSS per socket before and after, and checks that one more
 * fragment past the limit ends the socket.
 *
 *   npx tsx src/bench/partial-fragments.ts [--sockets 200] [--held-kib 60]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { freePort } from '../start/embedded-redis.ts';
import { FeedPublisher } from './feed-publisher.ts';
import { rssKiB } from './proc-stats.ts';
import { startServers } from './servers.ts';

const { values } = parseArgs({ options: { sockets: { type: 'string', default: '200' }, 'held-kib': { type: 'string', default: '60' } } });
const sockets = Number(values.sockets);
const heldKiB = Number(values['held-kib']);
if (!Number.isInteger(sockets) || sockets < 1 || !Number.isInteger(heldKiB) || heldKiB < 1 || heldKiB > 64) {
  console.error('usage: partial-fragments.ts [--sockets N ≥ 1] [--held-kib 1..64]');
  process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickgate-fragments-'));
const feedEndpoint = `tcp://127.0.0.1:${await freePort()}`;
const feed = await FeedPublisher.bind(feedEndpoint, 1, 1);
const servers = await startServers({ dir, feedEndpoint });
try {
  const [access] = await servers.login(1);
  const open = (): Promise<WebSocket> => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${servers.wsUrl}?access_token=${access}`);
    ws.once('message', () => resolve(ws)); // the welcome
    ws.once('error', reject);
  });
  const all: WebSocket[] = [];
  for (let i = 0; i < sockets; i++) all.push(await open());
  await settle();
  const before = rssKiB(servers.gateway.pid);

  const fragment = 'x'.repeat(4 * 1024);
  for (const ws of all) {
    ws.send('{"op":"ping","pad":"', { fin: false });
    for (let k = 0; k < Math.floor((heldKiB * 1024 - 20) / fragment.length); k++) ws.send(fragment, { fin: false });
  }
  // Every socket still answers a ping: the server holds each partial message.
  await Promise.all(all.map((ws) => new Promise<void>((resolve) => { ws.once('pong', () => resolve()); ws.ping(); })));
  await settle();
  const held = rssKiB(servers.gateway.pid);

  // One socket goes past the limit: it must end.
  const victim = all[0]!;
  const code = await new Promise<number>((resolve) => {
    victim.once('close', (c) => resolve(c));
    victim.send('x'.repeat(8 * 1024), { fin: false });
  });

  console.log(`sockets: ${sockets}, each holding ~${heldKiB} KiB of an unfinished message`);
  console.log(`gateway RSS: ${before} KiB with the sockets open, ${held} KiB while they hold fragments`);
  console.log(`→ ${((held - before) / sockets).toFixed(1)} KiB per socket for the partial message (limit 64 KiB)`);
  console.log(`one more fragment past 64 KiB: the socket closed with ${code} (uWS drops it; 1006 = no close frame)`);
  for (const ws of all) ws.terminate();
} finally {
  await servers.stop();
  feed.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Lets the gateway read what was sent before RSS is sampled. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 500));
}
