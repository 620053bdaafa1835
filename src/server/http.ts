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

/** Maps any thrown value to a status and a body; internal errors never leak their message. */
export function errorResponse(e: unknown): { status: number; code: string; message: string; internal: boolean } {
  if (e instanceof HttpError) return { status: e.status, code: e.code, message: e.message, internal: false };
  if (isNoburnError(e)) {
    const status = STATUS_OF[e.code];
    if (status !== undefined) return { status, code: e.code, message: e.message, internal: status >= 500 };
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
