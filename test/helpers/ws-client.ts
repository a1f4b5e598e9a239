/**
 * A real `ws` client with an inbox: tests await the next message that matches, or the close code,
 * each with a deadline.
 */
import WebSocket from 'ws';
import { withTimeout } from './wait.ts';

export type Msg = Record<string, any> & { type: string };

export class TestClient {
  readonly inbox: Msg[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Set when the server refused the upgrade. */
  refusedStatus: number | undefined;
  private waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void }[] = [];
  private cursor = 0;

  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (req, res) => {
        this.refusedStatus = res.statusCode;
        // With this listener ws leaves the refused request open; close it so nothing lingers.
        req.destroy();
        reject(new Error(`upgrade refused with HTTP ${res.statusCode}`));
      });
      ws.once('error', reject);
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as Msg;
      this.inbox.push(m);
      this.waiters = this.waiters.filter((w) => (w.pred(m) ? (w.resolve(m), false) : true));
    });
  }

  /** How the server answers an upgrade: 'open', or the HTTP status it refused with. */
  static async upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number | 'open'> {
    const c = new TestClient(new WebSocket(url, { headers }));
    try {
      await withTimeout(c.opened, 5_000, 'the upgrade');
      c.ws.terminate();
      return 'open';
    } catch {
      return c.refusedStatus ?? -1;
    }
  }

  static async connect(url: string, opts: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const c = new TestClient(new WebSocket(url, opts));
    await withTimeout(c.opened, 5_000, 'websocket open');
    return c;
  }

  send(obj: unknown): void {
    this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  /** The next message (after those already taken by `next`) that matches. */
  next(pred: (m: Msg) => boolean = () => true, timeoutMs = 5_000, what = 'a matching message'): Promise<Msg> {
    for (let i = this.cursor; i < this.inbox.length; i++) {
      if (pred(this.inbox[i]!)) {
        this.cursor = i + 1;
        return Promise.resolve(this.inbox[i]!);
      }
    }
    const p = new Promise<Msg>((resolve) => {
      this.waiters.push({
        pred,
        resolve: (m) => {
          this.cursor = this.inbox.length;
          resolve(m);
        },
      });
    });
    return withTimeout(p, timeoutMs, what);
  }

  nextOfType(type: string, timeoutMs = 5_000): Promise<Msg> {
    return this.next((m) => m.type === type, timeoutMs, `a "${type}" message`);
  }

  /** Sends a request with an id and waits for the reply carrying the same id. */
  async request(obj: Record<string, unknown>, timeoutMs = 5_000): Promise<Msg> {
    const id = obj.id ?? Math.floor(Math.random() * 1e9);
    const reply = this.next((m) => m.id === id, timeoutMs, `the reply to ${JSON.stringify(obj).slice(0, 80)}`);
    this.send({ ...obj, id });
    return reply;
  }

  ticks(token?: number): Msg[] {
    return this.inbox.filter((m) => m.type === 'tick' && (token === undefined || m.token === token));
  }

  waitClose(timeoutMs = 5_000) {
    return withTimeout(this.closed, timeoutMs, 'the socket to close');
  }

  close(): void {
    this.ws.close();
  }
}
