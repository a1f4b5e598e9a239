// Preloaded into a gateway by scripts/connect-storm.ts (--probe): on SIGWINCH it writes
// process.memoryUsage() before and after a full GC to $MEMORY_PROBE_DIR/mem-<pid>.json.
import fs from 'node:fs';
import v8 from 'node:v8';
process.on('SIGWINCH', () => {
  const before = process.memoryUsage();
  globalThis.gc?.();
  globalThis.gc?.();
  const after = process.memoryUsage();
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
  fs.writeFileSync(`${process.env.MEMORY_PROBE_DIR}/mem-${process.pid}.json`, JSON.stringify({ before, after, spaces }));
});
