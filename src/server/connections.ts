import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Connection limits of `noburn serve` (docs/operations.md "Limits and timeouts").
 *
 * Every open socket costs a file descriptor; when the process runs out of them it can no
 * longer accept anyone, open its ledger's files or answer its own clients (who then fail
 * open). So the server keeps at most `max` sockets, below the descriptor limit, and when a
 * new one arrives at the limit it closes the oldest socket that has no request in progress
 * (one that never sent a full request, or a keep-alive connection between requests) rather
 * than refusing the newcomer: idle sockets cannot crowd out a client that asks something.
 * Only when every socket is busy with a request is the new one closed.
 */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 30_000;

/** The soft RLIMIT_NOFILE of this process (Linux /proc), or null where it cannot be read. */
export function openFileLimit(read: (p: string) => string = (p) => readFileSync(p, 'utf8')): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(read('/proc/self/limits'));
    if (!m || m[1] === 'unlimited') return null;
    return Number(m[1]);
  } catch {
    return null;
  }
}

/**
 * Three quarters of the descriptor limit (the rest is for the ledger's files, logs and
 * Node itself), at least 16 and at most 16384; 1024 where the limit is unknown.
 */
export function defaultMaxConnections(limit: number | null = openFileLimit()): number {
  if (limit === null) return 1024;
  return Math.max(16, Math.min(16_384, Math.floor(limit * 0.75)));
}

export interface ConnectionLimiter {
  readonly open: number;
  /** Sockets closed to make room (idle ones) or refused (all busy), since the start. */
  readonly evicted: number;
  readonly refused: number;
}

export function limitConnections(server: Server, max: number): ConnectionLimiter {
  // Insertion order is connection order: the first idle entry is the oldest idle socket.
  const sockets = new Map<Socket, { busy: number }>();
  let evicted = 0;
  let refused = 0;
  server.on('connection', (socket: Socket) => {
    if (sockets.size >= max) {
      let victim: Socket | null = null;
      for (const [s, st] of sockets) {
        if (st.busy === 0) {
          victim = s;
          break;
        }
      }
      if (victim === null) {
        refused++;
        socket.destroy();
        return;
      }
      evicted++;
      sockets.delete(victim);
      victim.destroy();
    }
    sockets.set(socket, { busy: 0 });
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (req, res) => {
    const st = sockets.get(req.socket);
    if (!st) return;
    st.busy++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      st.busy--;
    };
    res.once('finish', finish);
    res.once('close', finish);
  });
  return {
    get open() {
      return sockets.size;
    },
    get evicted() {
      return evicted;
    },
    get refused() {
      return refused;
    },
  };
}
