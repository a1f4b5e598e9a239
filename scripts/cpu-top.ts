/** Self and inclusive time by function from a .cpuprofile: `node --import tsx scripts/cpu-top.ts file [n]` */
import fs from 'node:fs';
const prof = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8'));
const n = Number(process.argv[3] ?? 40);
const byId = new Map<number, any>();
for (const node of prof.nodes) byId.set(node.id, node);
const self = new Map<number, number>();
const dt: number[] = prof.timeDeltas;
prof.samples.forEach((id: number, i: number) => self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0)));
const parent = new Map<number, number>();
for (const node of prof.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
const label = (node: any) => `${node.callFrame.functionName || '(anon)'} ${node.callFrame.url.replace(/.*node_modules\//, '').replace(/.*wt-sockets\//, '')}:${node.callFrame.lineNumber + 1}`;
const selfBy = new Map<string, number>();
const inclBy = new Map<string, number>();
let total = 0;
for (const [id, t] of self) {
  total += t;
  const node = byId.get(id);
  selfBy.set(label(node), (selfBy.get(label(node)) ?? 0) + t);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (seen.has(l)) continue;
    seen.add(l);
    inclBy.set(l, (inclBy.get(l) ?? 0) + t);
  }
}
const show = (m: Map<string, number>, title: string) => {
  console.log(`\n${title} (total ${(total / 1e3).toFixed(0)} ms)`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${(v / 1e3).toFixed(0).padStart(8)} ms  ${k}`);
};
show(selfBy, 'self');
show(inclBy, 'inclusive');
