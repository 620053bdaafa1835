/**
 * Tags through the proxy: the x-noburn-tags header and `noburn run --tag` defaults tag each
 * call, tag caps refuse with tag_budget_exceeded, the header never reaches the upstream, and a
 * bad header is the client's error (400, nothing forwarded). In-process against the fake
 * upstream with the real guard on a SQLite ledger in a temp home.
 */
import { describe, expect, it } from 'vitest';
import { useProxySuite } from './harness.js';

const suite = useProxySuite();

const chat = () => ({ model: 'gpt-4o-mini', max_tokens: 50, messages: [{ role: 'user', content: 'Say something short.' }] });

function post(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-test', ...headers }, body: JSON.stringify(chat()) });
}

describe('tags through the proxy', () => {
  it('x-noburn-tags tags the call (spend by tag), is not forwarded, and a tag cap refuses only the calls carrying the tag', async () => {
    await suite.open();
    const o = `${suite.proxy.env['OPENAI_BASE_URL'] ?? ''}/chat/completions`;
    const first = await post(o, { 'x-noburn-tags': 'feature=search, team=Core', 'x-fake-usage': '20,0,50' });
    expect(first.status).toBe(200);
    await first.text();
    await suite.guard.flush();
    const byTeam = await suite.guard.spend({ by: 'tag:team' });
    expect(byTeam.rows.map((r) => r.key)).toEqual(['Core']); // case kept
    expect(suite.upstream.served.every((c) => c.headers['x-noburn-tags'] === undefined)).toBe(true);

    await suite.guard.setBudget({ scope: 'tag', tag: 'feature=search', capUsd: 0.00002, period: 'day' });
    const blocked = await post(o, { 'x-noburn-tags': 'feature=search' });
    expect(blocked.status).toBe(402);
    expect(await blocked.json()).toMatchObject({ error: { code: 'tag_budget_exceeded' } });
    for (const h of [{ 'x-noburn-tags': 'feature=chat' }, {}] as Record<string, string>[]) {
      const r = await post(o, h);
      expect(r.status).toBe(200);
      await r.text();
    }
    expect(suite.upstream.served.length).toBe(3);
  });

  it('noburn run --tag tags every call; the header adds to them and wins per key', async () => {
    await suite.open({ proxy: { defaultTags: { feature: 'agent', env: 'ci' } } });
    const o = `${suite.proxy.env['OPENAI_BASE_URL'] ?? ''}/chat/completions`;
    await (await post(o)).text();
    await (await post(o, { 'x-noburn-tags': 'feature=search' })).text();
    await suite.guard.flush();
    const byFeature = (await suite.guard.spend({ by: 'tag:feature' })).rows.map((r) => r.key).sort();
    expect(byFeature).toEqual(['agent', 'search']);
    expect((await suite.guard.spend({ by: 'tag:env' })).rows.map((r) => [r.key, r.calls])).toEqual([['ci', 2]]);
  });

  it('a bad x-noburn-tags header is the client\'s error: 400, nothing forwarded or counted', async () => {
    await suite.open();
    const o = `${suite.proxy.env['OPENAI_BASE_URL'] ?? ''}/chat/completions`;
    for (const h of ['feature', 'a=1,a=2', 'k=has space', Array.from({ length: 9 }, (_, i) => `k${i}=v`).join(',')]) {
      const r = await post(o, { 'x-noburn-tags': h });
      expect(r.status, h).toBe(400);
      expect(await r.json()).toMatchObject({ error: { code: 'noburn_bad_request' } });
    }
    expect(suite.upstream.served.length).toBe(0);
    await suite.guard.flush();
    expect(await suite.guard.spend({})).toMatchObject({ calls: 0, blockedCalls: 0 });
  });
});
