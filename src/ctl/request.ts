/**
 * One request/reply round trip to the ingester's control socket (§4) over a ZeroMQ REQ socket.
 *
 * REQ is strict about send/receive alternation and, by default, waits forever for a peer that
 * never answers and keeps unsent messages at close. So: linger 0 (close discards), a send timeout
 * (no peer at all) and a receive timeout (a peer that does not answer), both taken from one
 * deadline so the whole exchange is bounded by `timeoutMs`.
 */
import * as zmq from 'zeromq';
import { clientOptions, type ClientCurve } from '../zmq/curve.ts';

export class NoReplyError extends Error {
  constructor(readonly endpoint: string, readonly timeoutMs: number) {
    super(`no reply from the ingester at ${endpoint} within ${timeoutMs} ms (is it running, and is CONTROL_BIND / --endpoint right?)`);
    this.name = 'NoReplyError';
  }
}

/** Sends `frames` as one message and returns the reply's first frame as text. */
export async function controlRequest(
  endpoint: string, frames: string | Buffer | (string | Buffer)[], timeoutMs: number, curve?: ClientCurve,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const req = new zmq.Request({ ...(curve ? clientOptions(curve) : {}), linger: 0, sendTimeout: timeoutMs, receiveTimeout: timeoutMs });
  try {
    req.connect(endpoint);
    await req.send(frames);
    req.receiveTimeout = Math.max(1, deadline - Date.now());
    const [reply] = await req.receive();
    return (reply ?? Buffer.alloc(0)).toString('utf8');
  } catch (err) {
    // EAGAIN is ZeroMQ's word for "the timeout passed"; anything else is a real fault.
    if ((err as { code?: string }).code === 'EAGAIN') throw new NoReplyError(endpoint, timeoutMs);
    throw err;
  } finally {
    req.close();
  }
}

/**
 * A REQ socket kept open for many requests (tests, scripts). Each request is bounded like
 * `controlRequest`; after a timeout the socket is unusable (REQ still expects the lost reply) and
 * must be closed.
 */
export class ControlClient {
  private readonly req: zmq.Request;

  constructor(readonly endpoint: string, private readonly timeoutMs = 3_000, curve?: ClientCurve) {
    this.req = new zmq.Request({ ...(curve ? clientOptions(curve) : {}), linger: 0, sendTimeout: timeoutMs, receiveTimeout: timeoutMs });
    this.req.connect(endpoint);
  }

  /** Sends raw frames; returns the reply text. */
  async raw(frames: string | Buffer | (string | Buffer)[]): Promise<string> {
    try {
      await this.req.send(frames);
      const [reply] = await this.req.receive();
      return (reply ?? Buffer.alloc(0)).toString('utf8');
    } catch (err) {
      if ((err as { code?: string }).code === 'EAGAIN') throw new NoReplyError(this.endpoint, this.timeoutMs);
      throw err;
    }
  }

  /** Sends a request object; returns the parsed reply. */
  async send(request: object): Promise<Record<string, unknown>> {
    return JSON.parse(await this.raw(JSON.stringify(request))) as Record<string, unknown>;
  }

  close(): void {
    this.req.close();
  }
}
