/**
 * The proxy's per-run secret, end-user attribution and failed upstream calls, in-process
 * against the fake upstream with the real guard on a SQLite ledger in a temp home.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { costNano, toNano } from './helpers.js';
import { useProxySuite } from './harness.js';

const suite = useProxySuite();

const chat = (extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  max_tokens: 50,
  messages: [{ role: 'user', content: 'Say something short.' }],
  ...extra,
});

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', ...headers }, body: JSON.stringify(body) });
}

function open(opts: { capUsd?: number | null; defaultUser?: string; upstreams?: Record<string, string> } = {}): Promise<void> {
  return suite.open({ capUsd: opts.capUsd, proxy: { upstreams: opts.upstreams, defaultUser: opts.defaultUser } });
}

describe('per-run secret', () => {
  beforeEach(() => open());

  it('the base URLs given to the child carry an unguessable path segment', () => {
    const base = suite.proxy.env['OPENAI_BASE_URL'] ?? '';
    expect(base.startsWith(suite.proxy.origin + '/')).toBe(true);
    const secret = new URL(base).pathname.split('/')[1] ?? '';
    expect(secret.length).toBeGreaterThanOrEqual(24);
    expect(suite.proxy.env['ANTHROPIC_BASE_URL']).toBe(`${suite.proxy.origin}/${secret}/anthropic`);
  });

  it('a request without the secret (or with a wrong one) gets a provider-shaped 403 and reaches no upstream', async () => {
    const bare = await post(suite.proxy.origin + '/openai/v1/chat/completions', chat());
    expect(bare.status).toBe(403);
    expect(bare.headers.get('x-should-retry')).toBe('false');
    expect(await bare.json()).toMatchObject({ error: { code: 'noburn_forbidden' } });
    const wrong = await post(suite.proxy.origin + '/AAAAAAAAAAAAAAAAAAAAAAAA/anthropic/v1/messages', { model: 'claude-sonnet-4-5', max_tokens: 5, messages: [] });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    // Read-only paths are refused too: the secret is about who may use the proxy at all.
    expect((await fetch(suite.proxy.origin + '/openai/v1/models')).status).toBe(403);
    expect(suite.upstream.served.length).toBe(0);
    await suite.guard.flush();
    expect((await suite.guard.getRun(suite.runId)).calls).toBe(0);
    // With it, the same request goes through.
    expect((await post(suite.proxy.env['OPENAI_BASE_URL'] + '/chat/completions', chat())).status).toBe(200);
    expect(suite.upstream.served.length).toBe(1);
  });
});

describe('end users through the proxy', () => {
  it('OpenAI user / safety_identifier, Anthropic metadata.user_id and x-noburn-user attribute calls; the header is not forwarded', async () => {
    await open();
    const o = suite.proxy.env['OPENAI_BASE_URL'];
    const a = suite.proxy.env['ANTHROPIC_BASE_URL'];
    await (await post(`${o}/chat/completions`, chat({ user: 'u-user' }))).text();
    await (await post(`${o}/responses`, { model: 'gpt-4o-mini', input: 'hi', max_output_tokens: 20, safety_identifier: 'u-safety' })).text();
    await (await post(`${a}/v1/messages`, { model: 'claude-sonnet-4-5', max_tokens: 20, metadata: { user_id: 'u-anthropic' }, messages: [{ role: 'user', content: 'hi' }] })).text();
    await (await post(`${o}/chat/completions`, chat({ user: 'ignored-for-header' }), { 'x-noburn-user': 'u-header' })).text();
    await suite.guard.flush();
    const users = (await suite.guard.spend({ by: 'user' })).rows.map((g) => g.key).sort();
    expect(users).toEqual(['u-anthropic', 'u-header', 'u-safety', 'u-user']);
    expect(suite.upstream.served.every((c) => c.headers['x-noburn-user'] === undefined)).toBe(true);
  });

  it('a per-user cap stops one user while another goes on', async () => {
    await open();
    // One call of gpt-4o-mini here is held at about 50 out x $8/M + input: well under a cent.
    await suite.guard.setBudget({ scope: 'user', userId: 'alice', capUsd: 0.0006, period: 'month' });
    const o = suite.proxy.env['OPENAI_BASE_URL'];
    const first = await post(`${o}/chat/completions`, chat(), { 'x-noburn-user': 'alice', 'x-fake-usage': '20,0,50' });
    expect(first.status).toBe(200);
    await first.text();
    await suite.guard.flush();
    const blocked = await post(`${o}/chat/completions`, chat(), { 'x-noburn-user': 'alice' });
    expect(blocked.status).toBe(402);
    expect(await blocked.json()).toMatchObject({ error: { code: 'user_budget_exceeded' } });
    for (let i = 0; i < 3; i++) expect((await post(`${o}/chat/completions`, chat({ user: 'bob' }))).status).toBe(200);
    expect(suite.upstream.served.length).toBe(4);
  });

  it('noburn run --user sets the end user of calls that name none', async () => {
    await open({ defaultUser: 'run-user' });
    const o = suite.proxy.env['OPENAI_BASE_URL'];
    await (await post(`${o}/chat/completions`, chat())).text();
    await (await post(`${o}/chat/completions`, chat({ user: 'own-user' }))).text();
    await suite.guard.flush();
    const users = (await suite.guard.spend({ by: 'user' })).rows.map((g) => g.key).sort();
    expect(users).toEqual(['own-user', 'run-user']);
  });

  it('a bad end-user id is the client\'s error: 400, nothing forwarded', async () => {
    await open();
    const r = await post(`${suite.proxy.env['OPENAI_BASE_URL']}/chat/completions`, chat({ user: 'x'.repeat(300) }));
    expect(r.status).toBe(400);
    expect(suite.upstream.served.length).toBe(0);
  });
});

describe('failed upstream calls', () => {
  it('a 4xx/5xx answer is forwarded, frees its hold, is not a call and not spend; the proxy counts it as an error', async () => {
    await open({ capUsd: 1 });
    const o = suite.proxy.env['OPENAI_BASE_URL'];
    for (const status of ['404', '500']) {
      const r = await post(`${o}/chat/completions`, chat(), { 'x-fake-status': status });
      expect(r.status).toBe(Number(status));
      await r.text();
    }
    const ok = await post(`${o}/chat/completions`, chat());
    await ok.text();
    await suite.proxy.close();
    await suite.guard.flush();
    const run = await suite.guard.getRun(suite.runId);
    expect(run.calls).toBe(1);
    expect(run.heldUsd).toBe(0);
    expect(toNano(run.spendUsd)).toBe(costNano('gpt-4o-mini', suite.upstream.served[2]!.usage!));
    expect(suite.proxy.stats().find((s) => s.model === 'gpt-4o-mini')).toMatchObject({ calls: 1, errors: 2 });
  });

  it('an unreachable upstream: 502, hold freed, counted as an error', async () => {
    await open({ capUsd: 1, upstreams: { openai: 'http://127.0.0.1:1/v1', anthropic: 'http://127.0.0.1:1' } });
    const r = await post(`${suite.proxy.env['OPENAI_BASE_URL']}/chat/completions`, chat());
    expect(r.status).toBe(502);
    await suite.proxy.close();
    await suite.guard.flush();
    const run = await suite.guard.getRun(suite.runId);
    expect(run).toMatchObject({ calls: 0, heldUsd: 0, spendUsd: 0 });
    expect(suite.proxy.stats()[0]).toMatchObject({ calls: 0, errors: 1 });
  });
});
