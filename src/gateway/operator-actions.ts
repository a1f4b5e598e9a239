/**
 * The gateway side of the operator verbs `notify`, `announce` and `disconnect` (§4). The ingester
 * receives the control request and broadcasts it to every worker (see
 * src/ingester/control-commands.ts); each worker acts on its own sockets here. Users are named by
 * username, so `SocketRegistry.ofUsername` finds their sockets.
 *
 * Each notice is serialised once and the same bytes go to every recipient.
 */
import type { Logger } from 'pino';
import { CloseCodes } from '../protocol/close-codes.ts';
import { readOperatorBroadcast } from '../protocol/control.ts';
import { encode } from '../protocol/server-messages.ts';
import type { BroadcastMessage } from './ingest-link.ts';
import { isLive, sendText, type SocketRegistry } from './socket-model.ts';

export function handleOperatorBroadcast(registry: SocketRegistry, msg: BroadcastMessage, log: Logger): void {
  const op = readOperatorBroadcast(msg);
  if (!op) {
    log.warn({ type: msg.type }, 'ignoring an unknown or malformed broadcast from the ingester');
    return;
  }
  switch (op.type) {
    case 'notify': {
      const text = encode({ type: 'notice', message: op.message });
      const sockets = registry.ofUsername(op.user);
      for (const ws of sockets) sendText(ws, text);
      log.info({ user: op.user, sockets: sockets.length }, 'operator notice delivered');
      return;
    }
    case 'announce': {
      const text = encode({ type: 'notice', tokens: op.tokens, message: op.message });
      let sent = 0;
      // Once per socket, however many of the tokens it holds. The actor's subscription map is
      // what the client asked for, which is what "subscribers of those tokens" means.
      for (const ws of registry.all()) {
        if (!isLive(ws)) continue;
        const subs = ws.getUserData().actor!.getSnapshot().context.subscriptions;
        if (op.tokens.some((t) => subs.has(t))) {
          sendText(ws, text);
          sent++;
        }
      }
      log.info({ tokens: op.tokens.length, sockets: sent }, 'operator announcement delivered');
      return;
    }
    case 'disconnect': {
      const sockets = registry.ofUsername(op.user);
      // Through the actor, which owns the socket's lifecycle: it emits the close effect.
      for (const ws of sockets) if (isLive(ws)) ws.getUserData().actor!.send({ type: 'server.close', close: CloseCodes.policy });
      log.info({ user: op.user, sockets: sockets.length }, 'operator disconnected a user');
      return;
    }
  }
}
