/**
 * Per-constructor heap difference between two V8 heap snapshots, divided by a socket count:
 * which objects a socket costs. `node --import tsx scripts/heap-diff.ts before.heapsnapshot after.heapsnapshot 5000`
 */
import fs from 'node:fs';

interface Agg { count: number; bytes: number }

function aggregate(file: string): { byKey: Map<string, Agg>; total: number } {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
  const meta = snap.snapshot.meta;
  const fields: string[] = meta.node_fields;
  const types: string[] = meta.node_types[0];
  const nf = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const nodes: number[] = snap.nodes;
  const strings: string[] = snap.strings;
  const byKey = new Map<string, Agg>();
  let total = 0;
  for (let i = 0; i < nodes.length; i += nf) {
    const type = types[nodes[i + iType]!]!;
    let name = strings[nodes[i + iName]!]!;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(string)';
    else if (type === 'code') name = '(code)';
    else if (type === 'hidden' || type === 'array' || type === 'object shape') name = `${type}:${name.slice(0, 40)}`;
    else if (type === 'closure') name = `closure:${name.slice(0, 40)}`;
    else if (type === 'number' || type === 'heap number') name = '(number)';
    else name = `${type}:${name.slice(0, 60)}`;
    const size = nodes[i + iSize]!;
    total += size;
    const a = byKey.get(name) ?? { count: 0, bytes: 0 };
    a.count++;
    a.bytes += size;
    byKey.set(name, a);
  }
  return { byKey, total };
}

const [before, after, n] = process.argv.slice(2);
const sockets = Number(n);
const b = aggregate(before!);
const c = aggregate(after!);
const rows: { key: string; count: number; bytes: number }[] = [];
for (const [key, v] of c.byKey) {
  const o = b.byKey.get(key) ?? { count: 0, bytes: 0 };
  rows.push({ key, count: (v.count - o.count) / sockets, bytes: (v.bytes - o.bytes) / sockets });
}
rows.sort((x, y) => y.bytes - x.bytes);
console.log(`heap total: ${(b.total / 1048576).toFixed(1)} MiB -> ${(c.total / 1048576).toFixed(1)} MiB; per socket ${((c.total - b.total) / sockets).toFixed(0)} B`);
console.log('bytes/socket  objs/socket  holder');
for (const r of rows.slice(0, Number(process.argv[5] ?? 40))) console.log(`${r.bytes.toFixed(0).padStart(12)}  ${r.count.toFixed(2).padStart(11)}  ${r.key}`);
