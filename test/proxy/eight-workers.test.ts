/**
 * Rule: caps are never overshot through the proxy, even when the provider counts more input
 * than noburn's tokenizer. An upstream reports up to 20 % more input tokens than the local
 * count and uses every output token it is allowed; 8 concurrent SDK clients (OpenAI and
 * Anthropic, streaming and not) call until refused. The run's, the project's and a user's
 * spend stay within their caps, the spend is exactly the upstream's usage priced, and the
 * last refused call really did not fit (at the floor, with the input counted 20 % higher).
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { estimateRequest } from '../../src/lib/metering/index.js';
import { factorOf } from '../fixtures/fake-inflate.js';
import { type FakeUpstream } from '../fixtures/fake-upstream.js';
import { PRICES, toNano } from './helpers.js';
import { useProxySuite } from './harness.js';

const INFLATE = 0.2;
const WORKERS = 8;
const MAX_TOKENS = 1500;
const FLOOR = 256;

const suite = useProxySuite();

async function open(runCapUsd: number | null): Promise<void> {
  await suite.open({ capUsd: runCapUsd });
  suite.upstream.inflated.length = 0;
}

const TOPICS = ['rivers', 'mountains', 'old bridges', 'lighthouses', 'deserts', 'forests', 'islands', 'glaciers', 'canals', 'volcanoes'];
function prompt(worker: number, call: number): string {
  const topic = TOPICS[(worker * 7 + call) % TOPICS.length]!;
  return `Worker ${worker}, call ${call}: describe ${topic} in detail. `.repeat(1 + ((worker + call) % 5));
}

const headers = { 'x-fake-inflate': String(INFLATE) };

/** One call as worker `w` makes it; resolves true when it went through, false on a 402. */
async function call(w: number, n: number, user: string | null): Promise<boolean> {
  const stream = w % 4 < 2;
  const content = prompt(w, n);
  try {
    if (w % 2 === 0) {
      const client = new OpenAI({ apiKey: 'sk-test', baseURL: suite.proxy.env['OPENAI_BASE_URL'], maxRetries: 0, defaultHeaders: headers });
      // The end user in the provider's own field (user / metadata.user_id), as apps send it.
      const req = { model: 'gpt-4o-mini', max_tokens: MAX_TOKENS, messages: [{ role: 'user' as const, content }], ...(user ? { user } : {}) };
      if (stream) for await (const _ of await client.chat.completions.create({ ...req, stream: true })) void _;
      else await client.chat.completions.create(req);
    } else {
      const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: suite.proxy.env['ANTHROPIC_BASE_URL'], maxRetries: 0, defaultHeaders: headers });
      const req = { model: 'claude-sonnet-4-5', max_tokens: MAX_TOKENS, messages: [{ role: 'user' as const, content }], ...(user ? { metadata: { user_id: user } } : {}) };
      if (stream) await client.messages.stream(req).finalMessage();
      else await client.messages.create(req);
    }
    return true;
  } catch (e) {
    if ((e as { status?: number }).status === 402) return false;
    throw e;
  }
}

/** 8 workers, each calling until its first refusal (or `limit` calls). */
async function workers(userOf: (w: number) => string | null, limit = 200): Promise<number[]> {
  return Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      let n = 0;
      while (n < limit && (await call(w, n, userOf(w)))) n += 1;
      return n;
    }),
  );
}

/** The upstream's usage priced at the test prices, in nano-dollars, for the answers `which` selects. */
function billedNano(which: (a: FakeUpstream['inflated'][number]) => boolean = () => true): number {
  let sum = 0;
  for (const a of suite.upstream.inflated) {
    if (!which(a) || !a.model) continue;
    const p = PRICES[a.model]!;
    sum += 1000 * (a.tokensIn * p.inputPerMTok + a.tokensOut * p.outputPerMTok);
  }
  return sum;
}

/** A call now (nothing in flight) is refused, and at its floor with input counted 20 % higher it does not fit in what is left. */
async function lastRefusalDidNotFit(leftNano: number, user: string | null): Promise<void> {
  for (const w of [0, 1]) {
    const content = prompt(w, 999);
    expect(await call(w, 999, user)).toBe(false);
    const provider = w === 0 ? 'openai' : 'anthropic';
    const model = w === 0 ? 'gpt-4o-mini' : 'claude-sonnet-4-5';
    const est = await estimateRequest(provider, { model, max_tokens: MAX_TOKENS, messages: [{ role: 'user', content }] });
    const p = PRICES[model]!;
    const worstInput = Math.ceil(est!.tokensIn * (1 + INFLATE));
    expect(factorOf({ messages: [{ role: 'user', content }] }, INFLATE)).toBeLessThanOrEqual(1 + INFLATE);
    const floorNano = 1000 * (worstInput * p.inputPerMTok + FLOOR * p.outputPerMTok);
    expect(floorNano).toBeGreaterThan(leftNano);
  }
}

describe('8 concurrent workers through the proxy, provider counting up to 20 % more input', () => {
  it('run cap: spend never passes it', async () => {
    const cap = 0.3;
    await open(cap);
    const counts = await workers(() => null);
    await suite.guard.flush();
    const run = await suite.guard.getRun(suite.runId);
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThan(WORKERS);
    expect(toNano(run.spendUsd)).toBe(billedNano());
    expect(toNano(run.spendUsd)).toBeLessThanOrEqual(toNano(cap));
    expect(run.heldUsd).toBe(0);
    await lastRefusalDidNotFit(toNano(cap) - toNano(run.spendUsd), null);
  });

  it('project cap: spend never passes it', async () => {
    const cap = 0.25;
    await open(null);
    await suite.guard.setBudget({ scope: 'project', capUsd: cap, period: 'month' });
    await workers(() => null);
    await suite.guard.flush();
    const b = (await suite.guard.getBudgets()).find((x) => x.scope === 'project')!;
    expect(toNano(b.spentUsd)).toBe(billedNano());
    expect(toNano(b.spentUsd)).toBeLessThanOrEqual(toNano(cap));
    await lastRefusalDidNotFit(toNano(cap) - toNano(b.spentUsd), null);
  });

  it("a user's cap: that user's spend never passes it, while another user goes on", async () => {
    const cap = 0.2;
    await open(null);
    await suite.guard.setBudget({ scope: 'user', userId: 'alice', capUsd: cap, period: 'month' });
    const counts = await workers((w) => (w < 4 ? 'alice' : 'bob'), 25);
    await suite.guard.flush();
    const alice = (await suite.guard.getBudgets()).find((x) => x.scope === 'user' && x.userId === 'alice')!;
    expect(toNano(alice.spentUsd)).toBe(billedNano((a) => a.endUser === 'alice'));
    expect(toNano(alice.spentUsd)).toBeLessThanOrEqual(toNano(cap));
    // bob has no cap: every one of his calls went through
    expect(counts.slice(4)).toEqual([25, 25, 25, 25]);
    await lastRefusalDidNotFit(toNano(cap) - toNano(alice.spentUsd), 'alice');
  });
});
