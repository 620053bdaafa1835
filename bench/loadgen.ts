/**
 * A closed-loop HTTP load generator on undici's dispatch API (autocannon is not a
 * dependency): `connections` keep-alive connections with `pipelining` requests each in
 * flight; each answer sends the next request. No stream, promise or body object per
 * request, so the generator costs little CPU beside the server it measures (it reports
 * its own CPU use, to show it did not saturate the machine).
 */
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';

export interface LoadOptions {
  url: string;
  path: string;
  headers: Record<string, string>;
  /** The body of each request, or a function of the request's sequence number. */
  body: string | ((seq: number) => string);
  connections: number;
  pipelining: number;
  /** Stops after this many answers or this many milliseconds, whichever comes first. */
  count?: number;
  ms?: number;
  /** Called with each answer's body (only when given: otherwise bodies are not kept). */
  onBody?: (text: string) => void;
  /** Called every `everyMs` with the answers so far (the RSS sampler). */
  tick?: { everyMs: number; fn: (answered: number) => void };
}

export interface LoadResult {
  answered: number;
  seconds: number;
  rate: number;
  /** CPU the generator itself used, in cores (1 = one core busy for the whole run). */
  clientCores: number;
  errors: number;
}

export async function closedLoop(o: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(o.url, { connections: o.connections, pipelining: o.pipelining, keepAliveTimeout: 60_000 });
  const inflight = o.connections * o.pipelining;
  const limit = o.count ?? Number.POSITIVE_INFINITY;
  const deadline = performance.now() + (o.ms ?? Number.POSITIVE_INFINITY);
  const headers = { ...o.headers, 'content-type': 'application/json' };
  let sent = 0;
  let answered = 0;
  let errors = 0;
  let active = 0;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((r) => (finish = r));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();

  const next = (): void => {
    if (sent >= limit || performance.now() >= deadline) {
      if (active === 0) finish();
      return;
    }
    const seq = sent++;
    active++;
    const body = typeof o.body === 'string' ? o.body : o.body(seq);
    const chunks: Buffer[] | null = o.onBody ? [] : null;
    let status = 0;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(_c, code) {
        status = code;
      },
      onResponseData(_c, chunk) {
        chunks?.push(chunk);
      },
      onResponseEnd() {
        active--;
        answered++;
        if (status !== 200) errors++;
        if (chunks && o.onBody) o.onBody(Buffer.concat(chunks).toString('utf8'));
        next();
      },
      onResponseError() {
        active--;
        errors++;
        next();
      },
    };
    // undici pipelines a request only behind ones it may resend (idempotent) and that are
    // not `blocking` (the default for every method but HEAD): without both, a POST waits for
    // the answer before it, one request in flight per connection instead of `pipelining`.
    pool.dispatch({ origin: o.url, path: o.path, method: 'POST', headers, body, idempotent: true, blocking: false }, handler);
  };
  for (let i = 0; i < inflight; i++) next();
  const timer = o.tick ? setInterval(() => o.tick?.fn(answered), o.tick.everyMs) : null;
  await done;
  if (timer) clearInterval(timer);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await pool.destroy();
  return { answered, seconds, rate: answered / seconds, clientCores: (cpu.user + cpu.system) / 1e6 / seconds, errors };
}
