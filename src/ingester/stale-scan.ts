/**
 * Staleness (docs/control.md): a token with no tick for STALE_MS is reported `stale`, once, on its
 * own topic; the tick that ends the silence is preceded by `live` (Ingester.onTick). The check
 * runs on a timer over the books, so the tick path pays nothing for it beyond `freshAt = now`.
 */
import type { Books } from './books.ts';
import type { PauseState } from './pause-state.ts';

/** How often tokens are checked for staleness: a quarter of STALE_MS, within 10 ms..1 s. */
export function staleScanEveryMs(staleMs: number): number {
  return Math.min(1_000, Math.max(10, Math.floor(staleMs / 4)));
}

/**
 * Marks and reports tokens that had no tick for `staleMs`. Paused tokens are skipped: their state
 * is `paused`, whatever the feed does; after a resume they get STALE_MS again.
 */
export function scanStale(books: Books, paused: PauseState, staleMs: number, reportStale: (topic: Buffer, token: number) => void): void {
  const deadline = Date.now() - staleMs;
  for (const [token, book] of books) {
    if (book.stale || book.freshAt > deadline || paused.has(token)) continue;
    book.stale = true;
    books.dirtyStale.add(token);
    reportStale(book.topic, token);
  }
}
