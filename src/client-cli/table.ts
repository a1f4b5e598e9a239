/** The live terminal table of `tickgate client watch`, drawn from the SDK's per-token view. */
import type { TokenRow } from '../client/token-view.ts';

export interface Style { color: boolean }

const C = { reset: '\x1b[0m', green: '\x1b[32m', red: '\x1b[31m', dim: '\x1b[2m', yellow: '\x1b[33m', bold: '\x1b[1m' };

function num(v: number | undefined, digits = 2): string {
  return v === undefined ? '-' : v.toFixed(digits);
}

function paint(s: string, code: string, style: Style): string {
  return style.color ? `${code}${s}${C.reset}` : s;
}

const COLUMNS = ['token', 'last', 'chg%', 'bid', 'ask', 'volume', 'status', 'ticks/s', 'lag ms'] as const;
const WIDTHS = [10, 12, 8, 12, 12, 12, 8, 8, 8];

function pad(cells: string[], raw: string[]): string {
  // Pads on the raw text so colour codes do not throw the columns off.
  return cells.map((c, i) => (i === 0 ? c + ' '.repeat(Math.max(0, WIDTHS[i]! - raw[i]!.length)) : ' '.repeat(Math.max(0, WIDTHS[i]! - raw[i]!.length)) + c)).join(' ');
}

/** One row's cells as plain text. */
export function rowCells(r: TokenRow): string[] {
  const t = r.tick;
  const change = t.change !== undefined ? `${t.change >= 0 ? '+' : ''}${t.change.toFixed(2)}` : '-';
  return [String(r.token), num(t.ltp), change, num(t.bid), num(t.ask), t.volume === undefined ? '-' : String(t.volume), r.state === 'unknown' ? 'waiting' : r.state, String(r.ticksPerSec), r.lagMs === undefined ? '-' : String(r.lagMs)];
}

/** The whole table as lines. */
export function renderTable(rows: TokenRow[], header: string, style: Style): string[] {
  const lines = [paint(header, C.bold, style), pad(COLUMNS.map((h) => paint(h, C.dim, style)), [...COLUMNS])];
  for (const r of rows) {
    const raw = rowCells(r);
    const cells = [...raw];
    const dir = r.direction > 0 ? C.green : r.direction < 0 ? C.red : '';
    if (dir) cells[1] = paint(raw[1]!, dir, style);
    if (r.tick.change !== undefined) cells[2] = paint(raw[2]!, r.tick.change >= 0 ? C.green : C.red, style);
    if (r.state !== 'live') cells[6] = paint(raw[6]!, C.yellow, style);
    lines.push(pad(cells, raw));
  }
  return lines;
}
