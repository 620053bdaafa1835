/**
 * The server's side of the wire-error table (src/lib/wire/errors.ts, docs/api.md "Errors"):
 * every thrown value becomes a status and an `{error: {code, message}}` body. The first row
 * that matches decides. Rows below the library's own codes catch what the storage drivers
 * throw before anything wraps it: a SQLite file that is busy past its timeout, full,
 * read-only, corrupt or failing to read or write, and a file system out of space, are the
 * store failing (503 NOBURN_STORE, so clients treat it as "authority unavailable": records
 * wait in their outbox, `run start` exits 4), never an internal error.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NoburnError, isNoburnError } from '../lib/errors.js';
import { WIRE_ERRORS, isWireCode } from '../lib/wire/errors.js';
import type { HttpOnlyCode, WireCode } from '../lib/wire/errors.js';

/**
 * A refusal of the HTTP layer itself (a malformed or too large body, an unknown path or
 * method), with its wire code; its library code is what a client throws for it.
 */
export class HttpError extends NoburnError {
  readonly status: number;
  constructor(
    readonly wireCode: HttpOnlyCode | 'NOBURN_NOT_FOUND',
    message: string,
  ) {
    const row = WIRE_ERRORS[wireCode];
    super(row.client.error.errorCode ?? 'NOBURN_INTERNAL', message);
    this.status = row.status;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return isNoburnError(value) && typeof (value as { wireCode?: unknown }).wireCode === 'string';
  }
}

interface ErrorRow {
  test: (e: unknown) => boolean;
  status: (e: unknown) => number;
  code: (e: unknown) => string;
  /** The message sent: the error's own, or a fixed one (internal details never leak). */
  message: (e: unknown) => string;
}

/** SQLite result codes (primary, before any _EXTENDED suffix) that mean the store failed. */
const SQLITE_STORE_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_READONLY', 'SQLITE_CORRUPT', 'SQLITE_NOTADB', 'SQLITE_CANTOPEN', 'SQLITE_PROTOCOL', 'SQLITE_NOMEM', 'SQLITE_PERM']);
/** File-system errors (errno codes) that mean the same. */
const FS_STORE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO', 'EROFS', 'EMFILE', 'ENFILE']);

const codeOf = (e: unknown): string => {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : '';
};
const own = (e: unknown) => (e as Error).message;

const STORE_MESSAGE: Record<string, string> = {
  SQLITE_BUSY: 'the ledger is busy (locked by another writer past the busy timeout)',
  SQLITE_LOCKED: 'the ledger is busy (locked by another writer past the busy timeout)',
  SQLITE_FULL: 'the ledger cannot grow: the disk is full',
  ENOSPC: 'the ledger cannot grow: the disk is full',
  EFBIG: 'the ledger cannot grow: the file-size limit is reached',
};

const storeMessage = (e: unknown): string => {
  const c = codeOf(e);
  return STORE_MESSAGE[c] ?? STORE_MESSAGE[c.split('_').slice(0, 2).join('_')] ?? `the ledger failed (${c})`;
};

const wireRow = (e: unknown) => WIRE_ERRORS[(e as { code: WireCode }).code];

const ERROR_TABLE: readonly ErrorRow[] = [
  { test: (e) => e instanceof HttpError, status: (e) => (e as HttpError).status, code: (e) => (e as HttpError).wireCode, message: own },
  {
    test: (e) => isNoburnError(e) && isWireCode(e.code),
    status: (e) => wireRow(e).status,
    code: codeOf,
    message: (e) => wireRow(e).message ?? own(e),
  },
  {
    test: (e) => (e as Error | null)?.name === 'SqliteError' && SQLITE_STORE_CODES.has(codeOf(e).split('_').slice(0, 2).join('_')),
    status: () => WIRE_ERRORS.NOBURN_STORE.status,
    code: () => 'NOBURN_STORE',
    message: storeMessage,
  },
  { test: (e) => FS_STORE_CODES.has(codeOf(e)), status: () => WIRE_ERRORS.NOBURN_STORE.status, code: () => 'NOBURN_STORE', message: storeMessage },
];

/** Maps any thrown value to a status and a body; internal errors never leak their message. */
export function errorResponse(e: unknown): { status: number; code: string; message: string; internal: boolean } {
  for (const row of ERROR_TABLE) {
    if (!row.test(e)) continue;
    const status = row.status(e);
    return { status, code: row.code(e), message: row.message(e), internal: status >= 500 };
  }
  const internal = WIRE_ERRORS.NOBURN_INTERNAL;
  return { status: internal.status, code: 'NOBURN_INTERNAL', message: internal.message ?? 'internal error', internal: true };
}

/**
 * Reads a JSON body of at most `limit` bytes. A declared Content-Length over the limit is
 * refused before reading; a chunked body is cut off as soon as it passes the limit.
 */
export function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new HttpError('NOBURN_TOO_LARGE', `request body is larger than ${limit} bytes`));
  }
  // The common small body arrives with its headers: by the time the handler gets here the
  // parser has buffered all of it, so take it from the buffer, without a promise, listeners
  // and 'data' events. read() with no size returns the whole buffer; resume() lets 'end'
  // come (the parser may mark the message complete a turn later).
  const whole = req.complete || (declared !== undefined && req.readableLength > 0 && req.readableLength === Number(declared));
  if (whole && !req.readableEnded) {
    const chunk = req.read() as Buffer | null;
    req.resume();
    if (chunk !== null && chunk.length > limit) return Promise.reject(new HttpError('NOBURN_TOO_LARGE', `request body is larger than ${limit} bytes`));
    return parseBody(chunk === null ? '' : chunk.toString('utf8'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (e: HttpError) => {
      if (done) return;
      done = true;
      reject(e);
    };
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        fail(new HttpError('NOBURN_TOO_LARGE', `request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      const text = chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
      resolve(parseBody(text));
    });
    req.on('error', () => fail(new HttpError('NOBURN_MALFORMED', 'the request body could not be read')));
  });
}

/** The parsed body, or the refusal of an empty or unparsable one. */
function parseBody(text: string): Promise<unknown> {
  if (text.length === 0) return Promise.reject(new HttpError('NOBURN_MALFORMED', 'the request needs a JSON body'));
  try {
    return Promise.resolve(JSON.parse(text));
  } catch {
    return Promise.reject(new HttpError('NOBURN_MALFORMED', 'the request body is not valid JSON'));
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, closing = false): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  };
  if (closing) headers['connection'] = 'close';
  res.writeHead(status, headers);
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, code: string, message: string, closing = false): void {
  sendJson(res, status, { error: { code, message } }, closing);
}

/** Splits `a=1&b=2` into a plain object (a repeated name keeps its last value). */
export function parseQuery(q: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (q === '') return out;
  for (const [k, v] of new URLSearchParams(q)) out[k] = v;
  return out;
}
