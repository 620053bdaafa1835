/**
 * Whether this replica can reach its PostgreSQL database (docs/operations-postgres.md
 * "When PostgreSQL is unreachable"). Only a failure to reach the database counts: a
 * refused, reset or dropped connection, a connection or pool timeout. Everything else the
 * database says (a statement timeout, a constraint, a bug) is an answer, and stays the
 * error it is.
 *
 * Once a request found the database unreachable the link is `down`: requests stop waiting
 * for connections that will not come (checks are decided offline, records queued at once)
 * and a probe asks the database again, backing off, until it answers.
 */
import type { KeyStore } from '../lib/ledger/key-store.js';

/** Socket-level errno codes: the database host or its port cannot be reached. */
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN']);
/** SQLSTATEs of a server going away: 08xxx connection exceptions, admin/crash shutdown, cannot connect now. */
const PG_GONE = /^(08...|57P01|57P02|57P03)$/;
/** What pg and pg-pool throw, without a code, when a connection dies or never comes. */
const PG_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection terminated due to connection timeout',
  'Query read timeout',
];

/** Whether `e` (or an error it wraps, through `cause`) says the database cannot be reached. */
export function isUnreachable(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur !== null && cur !== undefined && depth < 5; depth++) {
    const err = cur as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
    const code = typeof err.code === 'string' ? err.code : '';
    if (NET_CODES.has(code) || PG_GONE.test(code)) return true;
    const msg = typeof err.message === 'string' ? err.message : '';
    if (PG_MESSAGES.some((m) => msg.startsWith(m))) return true;
    // Node's happy-eyeballs connect throws an AggregateError of each address's failure.
    if (Array.isArray(err.errors) && err.errors.some((x) => isUnreachable(x))) return true;
    cur = err.cause;
  }
  return false;
}

/** A hash no key has (keys are looked up by SHA-256 hex): the probe's cheap read. */
const PROBE_HASH = '0'.repeat(64);

export interface DbLinkOptions {
  keys: KeyStore;
  /** Called each time the database answers again after being down. */
  onUp?: () => void;
  onDown?: (e: unknown) => void;
  /** First probe delay (ms, default 200), doubling up to maxProbeMs (default 2000). */
  probeMs?: number;
  maxProbeMs?: number;
}

export class DbLink {
  private isDown = false;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;
  /** When the link went down (ms), null while up. */
  downSince: number | null = null;

  constructor(private readonly o: DbLinkOptions) {}

  get down(): boolean {
    return this.isDown;
  }

  /**
   * Looks at a failed store call: true when it means the database is unreachable (the link
   * goes down and probing starts), false for any other error.
   */
  failed(e: unknown): boolean {
    if (!isUnreachable(e)) return false;
    if (!this.isDown) {
      this.isDown = true;
      this.downSince = Date.now();
      this.failures = 0;
      this.o.onDown?.(e);
      this.schedule();
    }
    return true;
  }

  /** A store call succeeded: the database is reachable. */
  succeeded(): void {
    if (!this.isDown) return;
    this.isDown = false;
    this.downSince = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.o.onUp?.();
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    const base = this.o.probeMs ?? 200;
    const ms = Math.min(this.o.maxProbeMs ?? 2000, base * 2 ** Math.min(this.failures, 10));
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.probe();
    }, ms);
    this.timer.unref();
  }

  private async probe(): Promise<void> {
    try {
      await this.o.keys.findKeyByHash(PROBE_HASH);
      this.succeeded();
    } catch (e) {
      // Any other error is the database answering: it is reachable again.
      if (!isUnreachable(e)) {
        this.succeeded();
        return;
      }
      this.failures++;
      if (this.isDown) this.schedule();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
