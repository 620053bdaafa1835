/**
 * The client of bench/proxy.ts. It runs as the child that `noburn run` wraps, so its calls
 * to noburn take the path an unmodified program's would (OPENAI_BASE_URL -> proxy ->
 * upstream); the same client, with the same undici agent, calls every other side.
 *
 *   node proxy-client.mjs main|first PARAMS_JSON RESULT_FILE   (bundled by bench/plain-js.ts)
 *
 * main: interleaved rounds over the sides (direct, noburn, bare, portkey): chat at one
 *   connection, stream at one connection, chat at 16 in flight (latency and throughput).
 * first: one run's first proxied call beside its later calls (the client warms itself on
 *   the upstream first, new connections included, so what is left is the proxy's own
 *   warm-up and the one new connection to it; a direct call over a new connection and over
 *   a warm one are measured just before, for the breakdown).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { interleave, median } from './stats.js';

export interface Side {
  base: string;
  headers: Record<string, string>;
  /** The proxy's process id, for its CPU time (noburn's is this client's parent: noburn run). */
  pid?: number;
}

export interface MainParams {
  sides: Record<string, Side>;
  /** Sides that can stream (Portkey cannot on some Node versions; bench/proxy.ts finds out). */
  streamSides: string[];
  rounds1: number;
  per1: number;
  rounds16: number;
  per16: number;
  /** Rounds and calls per side of the agent conversation (a long history sent again with one more message each call). */
  roundsAgent: number;
  perAgent: number;
  warmup: number;
}

export interface MainResult {
  chat1: Record<string, number[]>;
  stream1: Record<string, number[]>;
  chat16: Record<string, number[]>;
  /** Requests per second of each 16-in-flight burst. */
  rate16: Record<string, number[]>;
  /** The proxy process's CPU time per call (ms, all its threads), per round at 1 connection and per 16-in-flight burst. */
  cpu1: Record<string, number[]>;
  cpu16: Record<string, number[]>;
  agent1: Record<string, number[]>;
  /** The agent conversation's size at its start: characters of message text, messages. */
  agentSize: { chars: number; messages: number };
}

export interface FirstResult {
  first: number;
  later: number[];
  /** A direct call to the upstream over a new connection, just before the first proxied call. */
  freshDirect: number;
  /** A direct call over the warm connection, just before. */
  warmDirect: number;
}

export const CHAT = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 40, messages: [{ role: 'user', content: 'Write one short, cheerful sentence about the sea.' }] });
export const STREAM = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 40, stream: true, messages: [{ role: 'user', content: 'Write one short, cheerful sentence about the sea.' }] });

/** Deterministic prose-like text (a small vocabulary, a seeded generator): what an agent's history reads like to a tokenizer. */
function prose(seed: number, chars: number): string {
  const words = ['the', 'agent', 'read', 'file', 'src/lib/ledger.ts', 'and', 'found', 'that', 'check()', 'returns', 'a', 'decision', 'with', 'remaining', 'budget;', 'it', 'then', 'wrote', 'patch', 'for', 'tests', 'in', 'test/unit', 'failed:', 'expected', '42,', 'got', '41.', 'Next,', 'run', 'npm', 'lint', 'again', 'before', 'commit.', '{"ok":true}', 'error', 'line', '17', 'column', '3'];
  let x = seed >>> 0 || 1;
  const out: string[] = [];
  let n = 0;
  while (n < chars) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const w = words[(x >>> 0) % words.length] as string;
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ');
}

/** An agent's conversation: 40 long turns (about 400,000 characters), then one short turn more per call. */
function agentConversation(): { history: { role: string; content: string }[]; next: (k: number) => { role: string; content: string } } {
  const history = Array.from({ length: 40 }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: prose(i + 1, 10_000) }));
  return { history, next: (k) => ({ role: k % 2 === 0 ? 'user' : 'assistant', content: prose(1000 + k, 200) }) };
}

/** CPU time of a process so far, in ms: the time on a CPU of each of its threads (/proc/PID/task/TID/schedstat, in ns). */
function cpuMs(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return ns / 1e6;
}

/** Runs `f` (which makes `calls` calls through `side`) and adds the proxy's CPU ms per call to `out`. */
async function withCpu(side: Side, calls: number, out: number[] | undefined, f: () => Promise<unknown>): Promise<void> {
  const pid = side.pid;
  if (pid === undefined || out === undefined) return void (await f());
  const c0 = cpuMs(pid);
  await f();
  out.push((cpuMs(pid) - c0) / calls);
}

let agent: Agent | undefined;
const agentOf = (): Agent => (agent ??= new Agent({ keepAliveTimeout: 60_000, connections: 32 }));

async function call(side: Side, body: string): Promise<number> {
  const t = performance.now();
  const r = await request(`${side.base}/chat/completions`, { method: 'POST', body, headers: { ...side.headers, 'content-type': 'application/json', authorization: 'Bearer sk-bench' }, dispatcher: agentOf() });
  await r.body.text();
  const ms = performance.now() - t;
  if (r.statusCode !== 200) throw new Error(`status ${r.statusCode} from ${side.base}`);
  return ms;
}

async function sequential(side: Side, body: string, n: number, out: number[] | null): Promise<void> {
  for (let i = 0; i < n; i++) {
    const ms = await call(side, body);
    out?.push(ms);
  }
}

/** `conc` workers, each sending its next call when the last is answered; returns calls/s. */
async function burst(side: Side, conc: number, perWorker: number, out: number[] | null): Promise<number> {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, () => sequential(side, CHAT, perWorker, out)));
  return (conc * perWorker) / ((performance.now() - t0) / 1000);
}

async function main(p: MainParams): Promise<MainResult> {
  const names = Object.keys(p.sides);
  const conv = agentConversation();
  const r: MainResult = { chat1: {}, stream1: {}, chat16: {}, rate16: {}, cpu1: {}, cpu16: {}, agent1: {}, agentSize: { chars: conv.history.reduce((t, m) => t + m.content.length, 0), messages: conv.history.length } };
  // Each side's conversation grows by one turn a call, from the same history, through the same turns.
  const turns: Record<string, { role: string; content: string }[]> = {};
  for (const n of names) {
    r.chat1[n] = [];
    r.stream1[n] = [];
    r.chat16[n] = [];
    r.rate16[n] = [];
    r.cpu1[n] = [];
    r.cpu16[n] = [];
    r.agent1[n] = [];
    turns[n] = [];
  }
  const agentCalls = async (n: string, s: Side, count: number, out: number[] | null): Promise<void> => {
    const mine = turns[n] as { role: string; content: string }[];
    for (let i = 0; i < count; i++) {
      mine.push(conv.next(mine.length));
      const ms = await call(s, JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 40, messages: [...conv.history, ...mine] }));
      out?.push(ms);
    }
  };
  const each = <T>(list: string[], f: (name: string, side: Side) => T): Record<string, () => T> => Object.fromEntries(list.map((n) => [n, () => f(n, p.sides[n] as Side)]));
  // Warm-up, not counted: connections, JIT, the ledger's statements.
  await interleave(2, each(names, (_, s) => sequential(s, CHAT, p.warmup / 2, null)));
  await interleave(2, each(p.streamSides, (_, s) => sequential(s, STREAM, p.warmup / 4, null)));
  await interleave(2, each(names, (_, s) => burst(s, 16, 5, null)));
  await interleave(1, each(names, (n, s) => agentCalls(n, s, 2, null)));

  await interleave(p.rounds1, each(names, (n, s) => withCpu(s, p.per1, r.cpu1[n], () => sequential(s, CHAT, p.per1, r.chat1[n] as number[]))));
  await interleave(p.rounds1, each(p.streamSides, (n, s) => sequential(s, STREAM, p.per1, r.stream1[n] as number[])));
  await interleave(p.roundsAgent, each(names, (n, s) => agentCalls(n, s, p.perAgent, r.agent1[n] as number[])));
  await interleave(
    p.rounds16,
    each(names, async (n, s) => {
      await withCpu(s, 16 * p.per16, r.cpu16[n], async () => (r.rate16[n] as number[]).push(await burst(s, 16, p.per16, r.chat16[n] as number[])));
    }),
  );
  return r;
}

/** One call over a new connection (a fresh agent): what opening a connection costs this client. */
async function freshCall(side: Side): Promise<number> {
  const a = new Agent({ keepAliveTimeout: 60_000 });
  const t = performance.now();
  const r = await request(`${side.base}/chat/completions`, { method: 'POST', body: CHAT, headers: { ...side.headers, 'content-type': 'application/json', authorization: 'Bearer sk-bench' }, dispatcher: a });
  await r.body.text();
  const ms = performance.now() - t;
  await a.close();
  return ms;
}

async function first(direct: Side, proxied: Side, later: number): Promise<FirstResult> {
  // The client's own warm-up (undici, JIT) on another origin, so that it is not counted;
  // opening connections included, since the first proxied call opens one to the proxy.
  await sequential(direct, CHAT, 30, null);
  for (let i = 0; i < 3; i++) await freshCall(direct);
  // For the breakdown: the same call to the upstream itself, over a new connection and over a warm one.
  const freshDirect = await freshCall(direct);
  const warmDirect = await call(direct, CHAT);
  const f = await call(proxied, CHAT);
  const rest: number[] = [];
  await sequential(proxied, CHAT, later, rest);
  // The baseline is a warm call: the second half of the later calls.
  return { first: f, later: rest.slice(Math.floor(later / 2)), freshDirect, warmDirect };
}

async function asClient(mode: string, params: string, resultFile: string): Promise<void> {
  const noburn: Side = { base: process.env['OPENAI_BASE_URL'] as string, headers: {} };
  if (mode === 'main') {
  const p = JSON.parse(params) as MainParams;
    p.sides['noburn'] = { ...noburn, pid: process.ppid };
    writeFileSync(resultFile, JSON.stringify(await main(p)));
  } else if (mode === 'first') {
    const p = JSON.parse(params) as { direct: Side; later: number };
    const r = await first(p.direct, noburn, p.later);
    writeFileSync(resultFile, JSON.stringify(r));
    process.stderr.write(`  first proxied call ${r.first.toFixed(2)} ms, later median ${median(r.later).toFixed(3)} ms; direct call over a new connection ${r.freshDirect.toFixed(2)} ms, over a warm one ${r.warmDirect.toFixed(2)} ms\n`);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  await agent?.close();
}

// bench/proxy.ts imports the shapes above; only the wrapped child runs the client.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [mode, params, resultFile] = process.argv.slice(2) as [string, string, string];
  await asClient(mode, params, resultFile);
}
