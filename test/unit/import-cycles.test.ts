import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCycles, importGraph } from '../helpers/import-graph.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('the project has no import cycle (src, actors, config)', () => {
  const graph = importGraph(root, ['src', 'actors', 'config']);
  assert.ok(graph.size > 50, `read ${graph.size} modules`);
  assert.ok((graph.get('src/gateway/gateway.ts') ?? []).includes('src/gateway/ws-route.ts'), 'edges are resolved to files');
  assert.deepEqual(findCycles(graph).map((c) => c.join(' → ')), []);
});

test('the cycle check finds a cycle through type-only imports and re-exports', () => {
  const graph = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts', 'd.ts']],
    ['d.ts', []],
  ]);
  assert.deepEqual(findCycles(graph), [['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  assert.deepEqual(findCycles(new Map([['x.ts', ['y.ts']], ['y.ts', []]])), []);
});
