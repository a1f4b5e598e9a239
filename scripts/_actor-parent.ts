import { createActor, fromCallback } from 'xstate';
import { connectionMachine } from '../actors/connection-machine.ts';
const n = 10000;
const gc = (globalThis as any).gc as () => void;
const root = createActor(fromCallback(() => {})).start();
const settings = { heartbeatMs: 20000 };
const input = (i: number) => ({
  heartbeatMs: 20000, pongTimeoutMs: 10000, maxTokens: 3000, msgRate: 20, msgBurst: 40, reauthLeadMs: 30000,
  slowCloseMs: 10000, slowThresholdBytes: 262144, expiresAt: Date.now() + 900_000, userId: `user-${i}`, sid: `sid-${i}`, now: Date.now,
});
const keep: any[] = [];
gc(); gc();
const h0 = process.memoryUsage().heapUsed;
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  const a = createActor(connectionMachine, { input: input(i), parent: root as any });
  a.on('*', () => {});
  a.subscribe({ error: () => {} });
  a.start();
  keep.push(a);
}
const t1 = performance.now();
gc(); gc();
console.log(`parent: heap/actor ${((process.memoryUsage().heapUsed - h0) / n).toFixed(0)} B; create ${((t1 - t0) * 1000 / n).toFixed(1)} us`);
