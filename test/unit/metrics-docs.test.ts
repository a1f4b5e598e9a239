import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

test('every metric the Grafana dashboard charts is one the README documents', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const documented = new Set([...readme.matchAll(/^\| `(tickgate_[a-z_]+)` \|/gm)].map((m) => m[1]!));
  const dashboard = JSON.parse(fs.readFileSync(path.join(root, 'docs', 'grafana-dashboard.json'), 'utf8'));
  const used = new Set<string>();
  for (const p of dashboard.panels) for (const t of p.targets) for (const m of (t.expr as string).matchAll(/tickgate_[a-z_]+/g)) used.add(m[0].replace(/_(bucket|sum|count)$/, ''));
  assert.ok(used.size >= 15, `the dashboard charts ${used.size} metrics`);
  for (const name of used) assert.ok(documented.has(name), `${name} is charted but not documented`);
});
