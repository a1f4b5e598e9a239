/**
 * Events of this process counted for `/metrics`: error codes it answered with on REST and
 * refused upgrades (`http`), `{"type":"error"}` messages on sockets (`ws`), and sockets switched
 * to conflation. Process-wide on purpose (one gateway worker is one process); read by
 * gateway-metrics.ts.
 */
import type { ErrorCode } from '../protocol/error-codes.ts';

export const eventCounts = {
  http: {} as Partial<Record<ErrorCode, number>>,
  ws: {} as Partial<Record<string, number>>,
  conflations: 0,
};

export function countConflation(): void {
  eventCounts.conflations++;
}

export function countHttpError(code: ErrorCode): void {
  eventCounts.http[code] = (eventCounts.http[code] ?? 0) + 1;
}

export function countWsError(code: string): void {
  eventCounts.ws[code] = (eventCounts.ws[code] ?? 0) + 1;
}
