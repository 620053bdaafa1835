import type { IncomingMessage, ServerResponse } from 'node:http';
import { isNoburnError } from '../lib/errors.js';
import type { NoburnErrorCode } from '../lib/errors.js';

/** An error with its HTTP status and the stable code of the `{error: {code, message}}` body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The one table from error classes to HTTP statuses (docs/api.md "Errors"). The first row
 * that matches decides. Rows below the library's own codes catch what the storage drivers
 * throw before anything wraps it: a SQLite file that is busy past its timeout, full,
 * read-only, corrupt or failing to read or write, and a file system out of space, are the
 * store failing (503 NOBURN_STORE, so clients treat it as "authority unavailable": records
 * wait in their outbox, `run start` exits 4), never an internal error.
 */
interface ErrorRow {
  test: (e: unknown) => boolean;
  status: number | ((e: unknown) => number);
  code: (e: unknown) => string;
  /** The message sent: the error's own, or a fixed one (internal details never leak). */
  message: (e: unknown) => string;
}

const STATUS_OF: Partial<Record<NoburnErrorCode, number>> = {
  NOBURN_VALIDATION: 422,
  NOBURN_CONFIG: 422,
  NOBURN_AUTH: 401,
  NOBURN_FORBIDDEN: 403,
  NOBURN_NOT_FOUND: 404,
  NOBURN_CONFLICT: 409,
  NOBURN_BLOCKED: 402,
  NOBURN_STORE: 503,
  NOBURN_UNREACHABLE: 503,
  NOBURN_TIMEOUT: 503,
};

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

const ERROR_TABLE: readonly ErrorRow[] = [
  { test: (e) => e instanceof HttpError, status: (e) => (e as HttpError).status, code: codeOf, message: own },
  {
    test: (e) => isNoburnError(e) && STATUS_OF[(e as { code: NoburnErrorCode }).code] !== undefined,
    status: (e) => STATUS_OF[(e as { code: NoburnErrorCode }).code] as number,
    code: codeOf,
    message: own,
  },
  {
    test: (e) => (e as Error | null)?.name === 'SqliteError' && SQLITE_STORE_CODES.has(codeOf(e).split('_').slice(0, 2).join('_')),
    status: 503,
    code: () => 'NOBURN_STORE',
    message: storeMessage,
  },
  { test: (e) => FS_STORE_CODES.has(codeOf(e)), status: 503, code: () => 'NOBURN_STORE', message: storeMessage },
];

/** Maps any thrown value to a status and a body; internal errors never leak their message. */
export function errorResponse(e: unknown): { status: number; code: string; message: string; internal: boolean } {
  for (const row of ERROR_TABLE) {
    if (!row.test(e)) continue;
    const status = typeof row.status === 'number' ? row.status : row.status(e);
    return { status, code: row.code(e), message: row.message(e), internal: status >= 500 };
  }
  return { status: 500, code: 'NOBURN_INTERNAL', message: 'internal error', internal: true };
}

/**
 * Reads a JSON body of at most `limit` bytes. A declared Content-Length over the limit is
 * refused before reading; a chunked body is cut off as soon as it passes the limit.
 */
export function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(new HttpError(413, 'NOBURN_TOO_LARGE', `request body is larger than ${limit} bytes`));
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
        fail(new HttpError(413, 'NOBURN_TOO_LARGE', `request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      const text = chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8');
      if (text.length === 0) {
        reject(new HttpError(400, 'NOBURN_MALFORMED', 'the request needs a JSON body'));
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new HttpError(400, 'NOBURN_MALFORMED', 'the request body is not valid JSON'));
      }
    });
    req.on('error', () => fail(new HttpError(400, 'NOBURN_MALFORMED', 'the request body could not be read')));
  });
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
