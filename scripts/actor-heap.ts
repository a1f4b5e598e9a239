/** Heap bytes per connection actor: `node --expose-gc --import tsx scripts/actor-heap.ts [n]` */
import { createActor, fromCallback } from 'xstate';
import { connectionMachine } from '../actors/connection-machine.ts';

const n = Number(process.argv[2] ?? 10000);
const gc = (globalThis as any).gc as () => void;
const settings = {
  heartbeatMs: 20000, pongTimeoutMs: 10000, maxTokens: 3000, msgRate: 20, msgBurst: 40, reauthLeadMs: 30000,
  slowCloseMs: 10000, slowThresholdBytes: 262144, now: Date.now,
};
const input = (i: number) => ({ settings, expiresAt: Date.now() + 900_000, userId: `user-${i}`, sid: `sid-${i}` });
const keep: unknown[] = [];
// As the gateway makes them: children of one parent, sharing one system.
const parent = createActor(fromCallback(() => undefined)).start();
gc(); gc();
const h0 = process.memoryUsage().heapUsed;
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const a = createActor(connectionMachine, { input: input(i), parent });
  a.on('*', () => {});
  a.subscribe({ error: () => {} });
  a.start();
  keep.push(a);
}
const t1 = process.hrtime.bigint();
gc(); gc();
const h1 = process.memoryUsage().heapUsed;
console.log(keep.length, `actors; heap per actor ${((h1 - h0) / n).toFixed(0)} B; create+start ${(Number(t1 - t0) / 1e3 / n).toFixed(1)} us each`);
const t2 = process.hrtime.bigint();
for (const a of keep as any[]) a.send({ type: 'client.frame' });
const t3 = process.hrtime.bigint();
console.log(`send client.frame: ${(Number(t3 - t2) / 1e3 / n).toFixed(1)} us each`);
process.exit(0);
