/**
 * The gateway's model of a socket: what each socket carries, the worker's registry of live
 * sockets, and the only ways other parts act on them (send, close, act on a session's sockets).
 *
 * A leaf module: it imports nothing from the rest of the gateway, so the bus, the session
 * checks, operator actions and the `/ws` route can all use it without importing each other.
 * Everything that changes a socket's lifecycle goes through its actor: this module hands events
 * to actors and carries out only sends and the final `end`.
 */
import type { ActorRefFrom } from 'xstate';
import type { connectionMachine } from '../../actors/connection-machine.ts';
import { decodeClientMessage } from '../protocol/client-messages.ts';
import { CloseCodes, type CloseCode } from '../protocol/close-codes.ts';
import { encode, type ServerMessage } from '../protocol/server-messages.ts';
import type { Mode } from '../protocol/tick.ts';
import type { WebSocket } from './uws.ts';
import type { WakeEntry } from './wake-wheel.ts';

export type ConnectionActor = ActorRefFrom<typeof connectionMachine>;

export interface SocketData {
  connId: string;
  userId: string;
  username: string;
  /** The client IP the upgrade was counted against (MAX_CONNS_PER_IP lease). */
  ip: string;
  /** The session whose revocation closes this socket (an in-band `auth` may move it). */
  sid: string;
  expiresAt: number;
  /** Set in `open`; undefined only between upgrade and open. */
  actor?: ConnectionActor;
  /** True once the socket was ended or uWS reported the close: it must not be touched after that. */
  closed: boolean;
  /** The welcome until it is sent; it must be the first message on the socket. */
  welcome?: ServerMessage;
  /** The send buffer last reported to the actor (0 while nothing is buffered). */
  reportedBytes: number;
  /** Tokens kept forwarded for this socket while it is off its topics (conflating). */
  held?: Set<number>;
  /** When the worker's wake wheel is to send the actor `clock.due` (see wake-wheel.ts). */
  wake?: WakeEntry;
}

export type Socket = WebSocket<SocketData>;

/** Whether a socket may still be acted on: not closed, and its actor running. */
export function isLive(ws: Socket): boolean {
  const d = ws.getUserData();
  return !d.closed && d.actor !== undefined && d.actor.getSnapshot().status === 'active';
}

/**
 * Live sockets of this worker, by session and username: the targets of revocation,
 * REST subscriptions and operator messages (which name users by username). Also the worker's
 * count of the closes it decided, by code.
 */
export class SocketRegistry {
  /**
   * A key with one socket (the usual case: one socket per session, often per user) holds the socket
   * itself, not a Set of one: a Set per key per index cost every idle socket a few hundred bytes.
   * Read them with `ofSession` / `ofUsername`.
   */
  readonly bySession = new Map<string, OneOrMany<Socket>>();
  readonly byUsername = new Map<string, OneOrMany<Socket>>();
  /** Sockets this worker closed, by close code (4009 slow consumers, 1009 oversize, …). */
  readonly closedWith: Record<number, number> = {};

  /** Open sockets of this worker (MAX_CONNS). */
  size = 0;

  add(ws: Socket): void {
    const d = ws.getUserData();
    this.size++;
    addTo(this.bySession, d.sid, ws);
    addTo(this.byUsername, d.username, ws);
  }

  /** The sockets of a session (a copy: safe to act on while they close). */
  ofSession(sid: string): Socket[] {
    return toArray(this.bySession.get(sid));
  }

  ofUsername(username: string): Socket[] {
    return toArray(this.byUsername.get(username));
  }

  remove(ws: Socket): void {
    const d = ws.getUserData();
    const s = this.bySession.get(d.sid);
    if (s === ws || (s instanceof Set && s.has(ws))) this.size--;
    removeFrom(this.bySession, d.sid, ws);
    removeFrom(this.byUsername, d.username, ws);
  }

  /** Moves a socket to another session of the same user. */
  moveSession(ws: Socket, sid: string): void {
    this.remove(ws);
    ws.getUserData().sid = sid;
    this.add(ws);
  }

  /** Some open socket of this worker, if there is one. */
  any(): Socket | undefined {
    for (const v of this.bySession.values()) for (const ws of each(v)) if (!ws.getUserData().closed) return ws;
    return undefined;
  }

  /** Every socket of this worker that is still registered (check `isLive` before acting). */
  *all(): Iterable<Socket> {
    for (const v of this.bySession.values()) yield* each(v);
  }

  /** Counts a server-side close; `end` does it, and the route for the closes uWS makes itself. */
  countClose(code: number): void {
    this.closedWith[code] = (this.closedWith[code] ?? 0) + 1;
  }

  /**
   * The one place a socket is ended by the server: the close is counted and the socket marked,
   * so nothing touches it afterwards.
   */
  end(ws: Socket, close: CloseCode): void {
    const d = ws.getUserData();
    if (d.closed) return;
    this.countClose(close.code);
    d.closed = true;
    ws.end(close.code, close.reason);
  }
}

type OneOrMany<V> = V | Set<V>;

function each<V>(v: OneOrMany<V>): Iterable<V> {
  return v instanceof Set ? v : [v];
}

function toArray<V>(v: OneOrMany<V> | undefined): V[] {
  return v === undefined ? [] : v instanceof Set ? [...v] : [v];
}

function addTo<K, V extends object>(m: Map<K, OneOrMany<V>>, k: K, v: V) {
  const s = m.get(k);
  if (s === undefined) m.set(k, v);
  else if (s instanceof Set) s.add(v);
  else if (s !== v) m.set(k, new Set([s, v]));
}

function removeFrom<K, V extends object>(m: Map<K, OneOrMany<V>>, k: K, v: V) {
  const s = m.get(k);
  if (s === v) m.delete(k);
  else if (s instanceof Set) {
    s.delete(v);
    if (s.size === 1) m.set(k, s.values().next().value!);
    else if (s.size === 0) m.delete(k);
  }
}

export function sendMessage(ws: Socket, msg: ServerMessage): void {
  if (!ws.getUserData().closed) ws.send(encode(msg));
}

/** Sends bytes already serialised once for many recipients. */
export function sendText(ws: Socket, text: string | Buffer): void {
  if (!ws.getUserData().closed) ws.send(text);
}

/** Closes every live socket of a session with 4003, through its actor. Returns how many. */
export function closeSessionSockets(registry: SocketRegistry, sid: string): number {
  let n = 0;
  for (const ws of registry.ofSession(sid)) {
    if (!isLive(ws)) continue;
    ws.getUserData().actor!.send({ type: 'server.close', close: CloseCodes.sessionRevoked });
    n++;
  }
  return n;
}

export type SessionCommand =
  | { op: 'subscribe'; tokens: number[]; mode?: Mode }
  | { op: 'unsubscribe'; tokens: number[] };

/**
 * Hands a REST subscribe/unsubscribe to every live socket of a session as if its client had sent
 * it: the actor applies its rate limit and token limit and answers with the usual ack, snapshots
 * and ticks. The message is decoded per socket, so every actor gets its own fresh object.
 * Returns how many sockets it reached.
 */
export function deliverToSession(registry: SocketRegistry, sid: string, cmd: SessionCommand): number {
  const text = JSON.stringify(cmd.op === 'subscribe' && cmd.mode !== undefined
    ? { op: cmd.op, tokens: cmd.tokens, mode: cmd.mode }
    : { op: cmd.op, tokens: cmd.tokens });
  let n = 0;
  for (const ws of registry.ofSession(sid)) {
    if (!isLive(ws)) continue;
    const decoded = decodeClientMessage(text);
    // Callers pass tokens and a mode they validated (REST body, bus message schema), so this
    // only guards the type: a command that does not decode reaches no socket.
    if (!decoded.ok) return 0;
    ws.getUserData().actor!.send({ type: 'client.message', msg: decoded.msg });
    n++;
  }
  return n;
}
