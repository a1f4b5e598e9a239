/** Call tree under functions matching a name: `node --import tsx scripts/cpu-tree.ts file name [depth]` */
import fs from 'node:fs';
const prof = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8'));
const name = process.argv[3]!;
const depth = Number(process.argv[4] ?? 4);
const byId = new Map<number, any>();
for (const node of prof.nodes) byId.set(node.id, node);
const self = new Map<number, number>();
prof.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const incl = (id: number): number => (self.get(id) ?? 0) + (byId.get(id).children ?? []).reduce((s: number, c: number) => s + incl(c), 0);
const label = (node: any) => `${node.callFrame.functionName || '(anon)'} ${node.callFrame.url.replace(/.*node_modules\//, '').replace(/.*wt-sockets\//, '')}`;
// merge children by label
function show(ids: number[], d: number, indent: string) {
  const groups = new Map<string, number[]>();
  for (const id of ids) for (const c of byId.get(id).children ?? []) {
    const l = label(byId.get(c));
    groups.set(l, [...(groups.get(l) ?? []), c]);
  }
  const selfMs = ids.reduce((s, id) => s + (self.get(id) ?? 0), 0);
  if (selfMs > 20_000) console.log(`${indent}${(selfMs / 1e3).toFixed(0).padStart(6)} ms  (self)`);
  for (const [l, cs] of [...groups].map(([l, cs]) => [l, cs, cs.reduce((s, c) => s + incl(c), 0)] as const).sort((a, b) => b[2] - a[2]).map(([l, cs]) => [l, cs] as const)) {
    const t = cs.reduce((s, c) => s + incl(c), 0);
    if (t < 20_000) continue;
    console.log(`${indent}${(t / 1e3).toFixed(0).padStart(6)} ms  ${l}`);
    if (d > 1) show(cs, d - 1, indent + '  ');
  }
}
const roots = prof.nodes.filter((n: any) => n.callFrame.functionName === name).map((n: any) => n.id);
// exclude nested occurrences
console.log(`${name}: ${(roots.reduce((s: number, id: number) => s + incl(id), 0) / 1e3).toFixed(0)} ms`);
show(roots, depth, '  ');
