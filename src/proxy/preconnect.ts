/**
 * Upstream connections opened ahead of the first request (noburn run: while the child
 * starts), so that the child's first call does not pay for the TCP and TLS handshakes.
 * Only a connection is opened, with the connector the pool itself uses (same TLS options
 * and session cache): no byte of HTTP is sent, so nothing is billed, counted or logged
 * upstream. The pool's first connect to that origin is handed the open socket if it is
 * still open, has received nothing and is younger than `maxAgeMs` (an upstream may close
 * a connection that carries no request; a closed one must never carry the first call);
 * otherwise the pool connects as it always does.
 */
import type { Socket } from 'node:net';
import { buildConnector } from 'undici';

/** Younger than any idle timeout an HTTP server applies to a connection with no request (Node's: 5 s). */
const DEFAULT_MAX_AGE_MS = 4000;

export interface Preconnector {
  /** The connector for the upstream Agent (its `connect` option). */
  readonly connect: buildConnector.connector;
  /** Opens one connection to `origin` (scheme://host[:port]); resolves false if it could not (silently). */
  open(origin: string): Promise<boolean>;
  /** How many opened connections are parked, waiting for their origin's first request. */
  readonly parked: number;
  /** Closes the connections that were never handed out. */
  close(): void;
}

interface Parked {
  socket: Socket;
  at: number;
}

type ConnectOptions = buildConnector.Options;

function keyOf(protocol: string, host: string): string {
  return `${protocol}//${host}`;
}

export function preconnector(opts: { maxAgeMs?: number; now?: () => number } = {}): Preconnector {
  const maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const now = opts.now ?? Date.now;
  const base = buildConnector({});
  const parked = new Map<string, Parked>();
  const noop = (): void => undefined;

  const drop = (key: string, p: Parked): void => {
    if (parked.get(key) !== p) return;
    parked.delete(key);
    p.socket.destroy();
  };

  const connect: buildConnector.connector = (o: ConnectOptions, callback) => {
    const key = keyOf(o.protocol, o.host ?? o.hostname);
    const p = parked.get(key);
    if (p) {
      parked.delete(key);
      const s = p.socket;
      s.off('error', noop);
      if (!s.destroyed && s.readyState === 'open' && s.readableLength === 0 && now() - p.at <= maxAgeMs) {
        s.ref();
        // Asynchronously, as a real connect answers: undici ignores a resume from inside its own.
        queueMicrotask(() => callback(null, s));
        return;
      }
      s.destroy();
    }
    return base(o, callback);
  };

  const open = (origin: string): Promise<boolean> => {
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return Promise.resolve(false);
    }
    const key = keyOf(u.protocol, u.host);
    if (parked.has(key) || (u.protocol !== 'http:' && u.protocol !== 'https:')) return Promise.resolve(false);
    // As undici's Client does: an IPv6 literal without its brackets.
    const hostname = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    return new Promise((resolve) => {
      base({ hostname, host: u.host, protocol: u.protocol, port: u.port }, (err, socket) => {
        if (err || socket === null) return resolve(false);
        const s = socket as Socket;
        const p: Parked = { socket: s, at: now() };
        // Parked, it keeps no process alive and an error only closes it; it is dropped when it closes.
        s.unref();
        s.on('error', noop);
        s.once('close', () => {
          if (parked.get(key) === p) parked.delete(key);
        });
        if (parked.has(key)) {
          s.destroy();
          return resolve(false);
        }
        parked.set(key, p);
        // Past its age it would not be handed out: closed then rather than left open.
        setTimeout(() => drop(key, p), maxAgeMs).unref();
        resolve(true);
      });
    });
  };

  return {
    connect,
    open,
    get parked() {
      return parked.size;
    },
    close() {
      for (const [key, p] of [...parked]) drop(key, p);
    },
  };
}
