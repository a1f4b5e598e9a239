import { createActor, fromCallback, setup } from 'xstate';
const n = 10000;
const gc = (globalThis as any).gc as () => void;
const root = createActor(fromCallback(() => {})).start();
const m = setup({ types: { context: {} as { a: number; b: number; s: object } , input: {} as object} }).createMachine({
  context: ({ input }) => ({ a: 1, b: 2, s: input }),
  initial: 'open',
  states: { open: { type: 'parallel', states: { l: { initial: 'i', states: { i: { on: { x: 'w' } }, w: {} } }, a: { initial: 'v', states: { v: {}, e: {} } }, f: { initial: 'k', states: { k: {}, c: {} } } }, on: { close: '.#closed' } }, closed: { id: 'closed', type: 'final' } },
});
const shared = {};
for (const withParent of [false, true]) {
  const keep: any[] = [];
  gc(); gc();
  const h0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const a = createActor(m, { input: shared, ...(withParent ? { parent: root as any } : {}) });
    a.on('*', () => {});
    a.start();
    keep.push(a);
  }
  const t1 = performance.now();
  gc(); gc();
  console.log(keep.length, `parent=${withParent}: heap/actor ${((process.memoryUsage().heapUsed - h0) / n).toFixed(0)} B; create ${((t1 - t0) * 1000 / n).toFixed(1)} us`);
}
