/**
 * ZeroMQ CURVE for the ingester's two server sockets (CONTROL_BIND REP, INGEST_BIND XPUB) and their
 * clients (gateway workers, `tickgate ctl`), with ZMQ_CURVE_DIR holding the keys:
 *
 *   server.key / server.pub   the ingester's key pair (the .pub is what clients need)
 *   client.key / client.pub   this host's client key pair (gateway, ctl)
 *   <any other>.pub           further client public keys the ingester admits
 *
 * The ingester admits exactly the client keys found there (client.pub included). CURVE alone
 * would accept any client that knows the server's public key; the check of the client's key is the
 * ZAP handler below, which libzmq consults for every CURVE handshake in its context. Without a ZAP
 * handler libzmq admits every key, so the handler is bound before the server sockets, in a context
 * of their own (a process may run more than one ingester in tests).
 *
 * Keys are Z85 text, 40 characters, as `zmq.curveKeyPair()` and `tickgate ctl keygen` write them.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as zmq from 'zeromq';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../../config/index.ts';

export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

export interface ServerCurve { publicKey: string; secretKey: string; allowed: ReadonlySet<string> }
export interface ClientCurve { serverKey: string; publicKey: string; secretKey: string }

function readKey(file: string): string {
  const k = fs.readFileSync(file, 'utf8').trim();
  if (k.length !== 40) throw new Error(`${file}: not a Z85 CURVE key (40 characters)`);
  return k;
}

export function loadServerCurve(dir: string): ServerCurve {
  const allowed = new Set<string>();
  for (const f of fs.readdirSync(dir)) {
    if (f.endsWith('.pub') && f !== 'server.pub') allowed.add(readKey(path.join(dir, f)));
  }
  return { publicKey: readKey(path.join(dir, 'server.pub')), secretKey: readKey(path.join(dir, 'server.key')), allowed };
}

export function loadClientCurve(dir: string): ClientCurve {
  return {
    serverKey: readKey(path.join(dir, 'server.pub')),
    publicKey: readKey(path.join(dir, 'client.pub')),
    secretKey: readKey(path.join(dir, 'client.key')),
  };
}

/** Socket options of a CURVE server socket. */
export function serverOptions(c: ServerCurve) {
  return { curveServer: true, curveSecretKey: c.secretKey, curvePublicKey: c.publicKey };
}

/** Socket options of a CURVE client socket. */
export function clientOptions(c: ClientCurve) {
  return { curveServerKey: c.serverKey, curvePublicKey: c.publicKey, curveSecretKey: c.secretKey };
}

/**
 * Writes a key pair `<name>.key` (mode 0600) and `<name>.pub` into `dir`; refuses to overwrite.
 * Returns the public key.
 */
export function writeKeyPair(dir: string, name: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { publicKey, secretKey } = zmq.curveKeyPair();
  const keyFile = path.join(dir, `${name}.key`);
  if (fs.existsSync(keyFile)) throw new Error(`${keyFile} exists; not overwritten`);
  fs.writeFileSync(keyFile, `${secretKey}\n`, { mode: 0o600, flag: 'wx' });
  fs.writeFileSync(path.join(dir, `${name}.pub`), `${publicKey}\n`, { flag: 'wx' });
  return publicKey;
}

const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';

export function z85Encode(data: Uint8Array): string {
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    let v = ((data[i]! << 24) >>> 0) + (data[i + 1]! << 16) + (data[i + 2]! << 8) + data[i + 3]!;
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.unshift(Z85[v % 85]!);
      v = Math.floor(v / 85);
    }
    out += chunk.join('');
  }
  return out;
}

/**
 * The ZAP handler (RFC 27) of one context: admits a CURVE client whose public key is in `allowed`,
 * refuses every other handshake (the client then gets no connection at all). Resolves once bound.
 */
export async function startZapHandler(context: zmq.Context, allowed: ReadonlySet<string>, log: Logger): Promise<() => void> {
  const router = new zmq.Router({ context, linger: 0 });
  await router.bind(ZAP_ENDPOINT);
  let closed = false;
  void (async () => {
    try {
      for await (const frames of router) {
        // [routing id, empty, version, request id, domain, address, identity, mechanism, credentials…]
        const [id, empty, version, requestId, , address, , mechanism, key] = frames;
        const client = mechanism?.toString() === 'CURVE' && key?.length === 32 ? z85Encode(key) : undefined;
        const ok = version?.toString() === '1.0' && client !== undefined && allowed.has(client);
        if (!ok) log.warn({ address: address?.toString(), mechanism: mechanism?.toString() }, 'ZeroMQ client refused (key not allowed)');
        await router.send([id!, empty!, '1.0', requestId!, ok ? '200' : '400', ok ? 'OK' : 'key not allowed', ok ? client : '', '']);
      }
    } catch (err) {
      if (!closed) log.error({ err }, 'ZAP handler stopped');
    }
  })();
  return () => {
    closed = true;
    router.close();
  };
}

/** Whether a ZeroMQ endpoint can only be reached from this machine (loopback TCP, ipc, inproc). */
export function isLocalEndpoint(endpoint: string): boolean {
  const m = /^tcp:\/\/(.+):[^:]+$/.exec(endpoint);
  if (!m) return /^(ipc|inproc):\/\//.test(endpoint);
  const host = m[1]!.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * With NODE_ENV=production, an ingester whose control or ingest socket would be reachable from
 * other machines without CURVE refuses to start: anyone reaching them could pause feeds, send
 * notices, disconnect users or read the whole stream.
 */
export function refuseOpenBinds(config: Pick<Config, 'nodeEnv' | 'zmqCurveDir' | 'controlBind' | 'ingestBind'>): void {
  if (config.nodeEnv !== 'production' || config.zmqCurveDir !== undefined) return;
  const problems: string[] = [];
  if (!isLocalEndpoint(config.controlBind)) problems.push(`CONTROL_BIND: ${config.controlBind} is reachable from other machines; set ZMQ_CURVE_DIR (tickgate ctl keygen) or bind to loopback`);
  if (!isLocalEndpoint(config.ingestBind)) problems.push(`INGEST_BIND: ${config.ingestBind} is reachable from other machines; set ZMQ_CURVE_DIR (tickgate ctl keygen) or bind to loopback`);
  if (problems.length > 0) throw new ConfigError(problems);
}
