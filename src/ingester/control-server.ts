/**
 * The ingester's control socket (§4): a ZeroMQ REP at CONTROL_BIND. Every request gets exactly one
 * JSON reply, whatever it contained: malformed, unknown and oversized requests get
 * `{"ok":false,"error":...}`, and a failing handler gets a generic error (the details go to the
 * log), so the socket keeps serving. REP answers one request at a time, which also means control
 * commands never interleave with each other.
 */
import * as zmq from 'zeromq';
import type { Logger } from 'pino';
import { receiveLoop } from '../zmq/receive-loop.ts';
import { parseControlRequest, type ControlReply, type ControlRequest } from '../protocol/control.ts';

/**
 * ZeroMQ drops the connection of a peer that sends a larger message, so such a request gets no
 * reply: the one exception to "always one reply", kept so a runaway client cannot make the
 * ingester buffer arbitrary amounts of memory. Anything between MAX_CONTROL_REQUEST_BYTES and
 * this is read and refused with an error reply.
 */
const MAX_WIRE_BYTES = 16 * 1024 * 1024;

export type ControlHandler = (req: ControlRequest) => Promise<ControlReply>;

export class ControlServer {
  private readonly rep: zmq.Reply;
  private closed = false;

  private constructor(private readonly handler: ControlHandler, private readonly log: Logger, options: zmq.SocketOptions<zmq.Reply>) {
    this.rep = new zmq.Reply({ ...options, linger: 0, maxMessageSize: MAX_WIRE_BYTES });
  }

  /** `options`: extra socket options (the context and CURVE keys, see src/zmq/curve.ts). */
  static async start(endpoint: string, handler: ControlHandler, log: Logger, options: zmq.SocketOptions<zmq.Reply> = {}): Promise<ControlServer> {
    const server = new ControlServer(handler, log.child({ part: 'control' }), options);
    await server.rep.bind(endpoint);
    server.loop();
    return server;
  }

  private loop(): void {
    receiveLoop(this.rep, async (frames) => {
      const reply = await this.answer(frames);
      await this.rep.send(JSON.stringify(reply));
    }, { what: 'control', log: this.log, closed: () => this.closed });
  }

  private async answer(frames: Buffer[]): Promise<ControlReply> {
    const parsed = parseControlRequest(frames);
    if (!parsed.ok) {
      this.log.debug({ error: parsed.error }, 'refused a control request');
      return { ok: false, error: parsed.error };
    }
    try {
      return await this.handler(parsed.request);
    } catch (err) {
      this.log.error({ err, cmd: parsed.request.cmd }, 'control request failed');
      return { ok: false, error: 'internal error' };
    }
  }

  close(): void {
    this.closed = true;
    this.rep.close();
  }
}
