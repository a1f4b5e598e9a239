import v8 from 'node:v8';
import { createActor } from 'xstate';
import { connectionMachine } from '../actors/connection-machine.ts';
const n = 2000;
const input = (i: number) => ({
  heartbeatMs: 20000, pongTimeoutMs: 10000, maxTokens: 3000, msgRate: 20, msgBurst: 40, reauthLeadMs: 30000,
  slowCloseMs: 10000, slowThresholdBytes: 262144, expiresAt: Date.now() + 900_000, userId: `user-${i}`, sid: `sid-${i}`, now: Date.now,
});
const keep: unknown[] = [];
// warm
for (let i = 0; i < 10; i++) { const a = createActor(connectionMachine, { input: input(i) }); a.on('*', () => {}); a.subscribe({ error: () => {} }); a.start(); keep.push(a); }
v8.writeHeapSnapshot('/tmp/mb/a.heapsnapshot');
for (let i = 0; i < n; i++) { const a = createActor(connectionMachine, { input: input(i) }); a.on('*', () => {}); a.subscribe({ error: () => {} }); a.start(); keep.push(a); }
v8.writeHeapSnapshot('/tmp/mb/b.heapsnapshot');
process.exit(0);
