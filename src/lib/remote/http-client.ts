/**
 * The HTTP side of remote mode: one undici keep-alive pool per client, JSON in and out,
 * a timeout on every request, and the mapping from answers and socket errors to the
 * library's errors (docs/api.md): an error answer as the wire-error table says (400/413/422
 * -> NoburnValidationError, 401 -> NoburnAuthError, 403 -> NoburnForbiddenError, 404 ->
 * NoburnNotFoundError, 409 -> NoburnConflictError, 502/503/504 -> NoburnUnreachableError),
 * socket errors -> NoburnUnreachableError, a request that takes longer than the timeout ->
 * NoburnTimeoutError.
 */
import { Pool } from 'undici';
import { NoburnConfigError, NoburnError, NoburnTimeoutError, NoburnUnreachableError } from '../errors.js';
import { errorFromAnswer } from '../wire/errors.js';

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

export interface HttpClientOptions {
  timeoutMs: number;
  /** Concurrent connections to the server (default 16). */
  connections?: number;
}

export class HttpClient {
  private readonly pool: Pool;
  private readonly prefix: string;
  private readonly auth: string | null;
  private closed = false;

  constructor(
    readonly url: string,
    apiKey: string | null,
    private readonly opts: HttpClientOptions,
  ) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new NoburnConfigError(`NOBURN_URL is not a valid URL: ${JSON.stringify(url)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new NoburnConfigError('NOBURN_URL must start with http:// or https://');
    this.prefix = u.pathname.replace(/\/+$/, '');
    this.auth = apiKey === null ? null : `Bearer ${apiKey}`;
    this.pool = new Pool(u.origin, {
      connections: opts.connections ?? 16,
      pipelining: 1,
      connect: { timeout: opts.timeoutMs },
      // backstops only: the per-request deadline below is what callers see
      headersTimeout: opts.timeoutMs + 1000,
      bodyTimeout: opts.timeoutMs + 1000,
      keepAliveTimeout: 30_000,
    });
  }

  /** Sends a request and returns the parsed JSON body of a 2xx answer; throws the mapped error otherwise. */
  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, timeoutMs = this.opts.timeoutMs): Promise<T> {
    if (this.closed) throw new NoburnUnreachableError('the noburn client is closed');
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.auth !== null) headers['authorization'] = this.auth;
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    let status: number;
    let text: string;
    // One deadline for the whole exchange (queueing, connect, headers, body). undici's own
    // headers/body timeouts run on a coarse (about 1 s) clock, too late for a 300 ms budget.
    const ac = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
    try {
      const res = await this.pool.request({ method, path: this.prefix + path, headers, body: payload, signal: ac.signal });
      status = res.statusCode;
      text = await res.body.text();
    } catch (e) {
      if (timedOut) throw new NoburnTimeoutError(`the noburn server at ${this.url} did not answer within ${timeoutMs} ms`, { cause: e });
      throw transportError(e, this.url, timeoutMs);
    } finally {
      clearTimeout(timer);
    }
    if (status >= 200 && status < 300) {
      try {
        return (text === '' ? null : JSON.parse(text)) as T;
      } catch {
        throw new NoburnUnreachableError(`the noburn server at ${this.url} answered with something that is not JSON (is NOBURN_URL right?)`);
      }
    }
    throw errorFromAnswer(status, text);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // destroy, not close: close() would wait for requests that may never be answered.
    await this.pool.destroy().catch(() => {});
  }
}

export function transportError(e: unknown, url: string, timeoutMs: number): NoburnError {
  if (e instanceof NoburnError) return e;
  const code = (e as { code?: string }).code ?? '';
  if (TIMEOUT_CODES.has(code)) {
    return new NoburnTimeoutError(`the noburn server at ${url} did not answer within ${timeoutMs} ms`, { cause: e });
  }
  const why = code || (e instanceof Error ? e.message : String(e));
  return new NoburnUnreachableError(`cannot reach the noburn server at ${url} (${why})`, { cause: e });
}
