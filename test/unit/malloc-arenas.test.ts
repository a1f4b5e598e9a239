import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MALLOC_ARENA_MAX, withMallocArenas } from '../../src/start/malloc-arenas.ts';

test('launchers give tickgate processes two malloc arenas unless the operator chose a number', () => {
  assert.equal(withMallocArenas({ PATH: '/bin' }).MALLOC_ARENA_MAX, DEFAULT_MALLOC_ARENA_MAX);
  assert.equal(withMallocArenas({ PATH: '/bin' }).PATH, '/bin');
  assert.equal(withMallocArenas({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX, '8');
});
