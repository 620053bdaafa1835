/**
 * The one table of the HTTP API's errors (docs/api.md "Errors"): each code the server
 * answers with, its status, and the library error a client throws for it. The server
 * (src/server/http.ts) answers a NoburnError with its code's row; the client
 * (src/lib/remote/http-client.ts) turns an answer back into the row's error: by the code
 * in the body when it is one of these, else by the status (a proxy in front of the server
 * answers 502 with a body of its own). No zod here: the client loads this module.
 */
import {
  NoburnAuthError,
  NoburnConflictError,
  NoburnError,
  NoburnForbiddenError,
  NoburnNotFoundError,
  NoburnUnreachableError,
  NoburnValidationError,
} from '../errors.js';
import type { NoburnErrorCode } from '../errors.js';

/** What a client throws for an answer: the error class, and its message from the server's (null: none) and the status. */
interface ClientError {
  error: { readonly errorCode: NoburnErrorCode | undefined };
  make(message: string | null, status: number): NoburnError;
}

const refused: ClientError = { error: NoburnValidationError, make: (m, s) => new NoburnValidationError(m ?? `the server refused the request (HTTP ${s})`) };
const auth: ClientError = { error: NoburnAuthError, make: (m) => new NoburnAuthError(m ?? 'authentication failed (check NOBURN_API_KEY)') };
const forbidden: ClientError = { error: NoburnForbiddenError, make: (m) => new NoburnForbiddenError(m ?? 'this key may not do that') };
const notFound: ClientError = { error: NoburnNotFoundError, make: (m) => new NoburnNotFoundError(m ?? 'not found') };
const conflict: ClientError = { error: NoburnConflictError, make: (m) => new NoburnConflictError(m ?? 'conflict') };
// The store failing, a timeout inside the server, a proxy with no server behind it: the
// authority is unavailable (records wait in the outbox, checks fall back).
const unavailable: ClientError = {
  error: NoburnUnreachableError,
  make: (m, s) => new NoburnUnreachableError(`the noburn server is unavailable (HTTP ${s}${m ? `: ${m}` : ''})`),
};
const failed: ClientError = { error: NoburnError, make: (m, s) => new NoburnError('NOBURN_INTERNAL', `the noburn server failed (HTTP ${s}${m ? `: ${m}` : ''})`) };

/** Codes only the HTTP layer answers with (no library error carries them). */
export type HttpOnlyCode = 'NOBURN_MALFORMED' | 'NOBURN_TOO_LARGE' | 'NOBURN_METHOD_NOT_ALLOWED' | 'NOBURN_REQUEST_TIMEOUT';
/** Every code of an error body. NOBURN_CLOSED never crosses the wire (a server's guard is never closed mid-request). */
export type WireCode = Exclude<NoburnErrorCode, 'NOBURN_CLOSED'> | HttpOnlyCode;

export interface WireError {
  status: number;
  client: ClientError;
  /** Sent instead of the error's own message (internal details never leak). */
  message?: string;
}

export const WIRE_ERRORS: Readonly<Record<WireCode, WireError>> = {
  NOBURN_MALFORMED: { status: 400, client: refused },
  NOBURN_AUTH: { status: 401, client: auth },
  NOBURN_BLOCKED: { status: 402, client: failed },
  NOBURN_FORBIDDEN: { status: 403, client: forbidden },
  NOBURN_NOT_FOUND: { status: 404, client: notFound },
  NOBURN_METHOD_NOT_ALLOWED: { status: 405, client: failed },
  NOBURN_REQUEST_TIMEOUT: { status: 408, client: failed },
  NOBURN_CONFLICT: { status: 409, client: conflict },
  NOBURN_TOO_LARGE: { status: 413, client: refused },
  NOBURN_VALIDATION: { status: 422, client: refused },
  NOBURN_CONFIG: { status: 422, client: refused },
  NOBURN_INTERNAL: { status: 500, client: failed, message: 'internal error' },
  NOBURN_STORE: { status: 503, client: unavailable },
  NOBURN_UNREACHABLE: { status: 503, client: unavailable },
  NOBURN_TIMEOUT: { status: 503, client: unavailable },
};

/** Statuses a gateway in front of the server answers with (no noburn body): the server is away. */
const GATEWAY: Readonly<Record<number, ClientError>> = { 502: unavailable, 504: unavailable };

export function isWireCode(code: unknown): code is WireCode {
  return typeof code === 'string' && Object.hasOwn(WIRE_ERRORS, code);
}

/** The client's error for a status (rows that share a status share their client error: a test holds it). */
export function clientErrorFor(status: number): ClientError {
  return GATEWAY[status] ?? Object.values(WIRE_ERRORS).find((w) => w.status === status)?.client ?? failed;
}

/** The error a client throws for a non-2xx answer with this body. */
export function errorFromAnswer(status: number, text: string): NoburnError {
  let code: unknown = null;
  let message: string | null = null;
  try {
    const j = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    code = j.error?.code;
    if (typeof j.error?.message === 'string') message = j.error.message;
  } catch {
    // not a noburn body (a proxy's page): the status alone
  }
  const client = isWireCode(code) && WIRE_ERRORS[code].status === status ? WIRE_ERRORS[code].client : clientErrorFor(status);
  return client.make(message, status);
}
