/** A route as plain data: the adapter by its id, the endpoint by its kind. */
import { describe, expect, it } from 'vitest';
import { NoburnConfigError } from '../../src/lib/errors.js';
import { anthropic } from '../../src/lib/metering/providers/anthropic.js';
import { openai } from '../../src/lib/metering/providers/openai.js';
import { errorResponse, refusal } from '../../src/lib/metering/refusal.js';
import { PROVIDERS } from '../../src/lib/metering/providers/index.js';
import { matchRoute, proxyEnv, routeTable, upstreamsFromEnv } from '../../src/proxy/routes.js';

function route(url: string) {
  const r = matchRoute(url, table);
  return r && { provider: r.provider.id, kind: r.endpoint?.kind ?? null, origin: r.origin, path: r.path };
}

const table = routeTable({ openai: 'https://gw.example.com/openai/v1/', anthropic: 'http://127.0.0.1:9999' });

describe('routes', () => {
  it('maps /openai/v1/X onto the OpenAI base (which carries /v1) and keeps the query', () => {
    expect(route('/openai/v1/chat/completions?x=1')).toEqual({ provider: 'openai', kind: 'chat', origin: 'https://gw.example.com', path: '/openai/v1/chat/completions?x=1' });
    expect(route('/openai/v1/models')).toMatchObject({ kind: null, path: '/openai/v1/models' });
    expect(route('/openai/v1/responses')).toMatchObject({ kind: 'responses' });
    expect(route('/openai/v1/embeddings')).toMatchObject({ kind: 'embeddings' });
    expect(route('/openai/v1/completions')).toMatchObject({ kind: 'completions' });
    expect(route('/openai/v1/responses/resp_1')).toMatchObject({ kind: null });
  });

  it('maps /anthropic/X onto the Anthropic base (the SDK adds /v1 itself)', () => {
    expect(route('/anthropic/v1/messages')).toEqual({ provider: 'anthropic', kind: 'messages', origin: 'http://127.0.0.1:9999', path: '/v1/messages' });
    expect(route('/anthropic/v1/messages/count_tokens')).toMatchObject({ kind: null, path: '/v1/messages/count_tokens' });
  });

  it('other paths are not routed', () => {
    expect(matchRoute('/v1/chat/completions', table)).toBeNull();
    expect(matchRoute('/openaiX/v1/chat/completions', table)).toBeNull();
  });

  it('the child env and the upstreams come from the adapter table: every base-URL variable of every provider', () => {
    expect(proxyEnv('http://127.0.0.1:5')).toEqual({
      OPENAI_BASE_URL: 'http://127.0.0.1:5/openai/v1',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:5/anthropic',
      GOOGLE_GEMINI_BASE_URL: 'http://127.0.0.1:5/google',
    });
    expect(upstreamsFromEnv({ OPENAI_BASE_URL: 'http://gw/v1', ANTHROPIC_BASE_URL: '' })).toEqual({
      openai: 'http://gw/v1',
      anthropic: 'https://api.anthropic.com',
      google: 'https://generativelanguage.googleapis.com',
    });
    const env = proxyEnv('http://p');
    for (const p of PROVIDERS) for (const name of p.baseUrlEnv) expect(env[name]).toBe('http://p' + p.prefix);
    // One prefix per provider, none a prefix of another's path segment.
    const prefixes = PROVIDERS.map((p) => p.prefix);
    expect(new Set(prefixes).size).toBe(prefixes.length);
  });

  it('rejects a non-http upstream', () => {
    expect(() => routeTable({ openai: 'ftp://x', anthropic: 'http://y' })).toThrow(/OPENAI_BASE_URL/);
    expect(() => routeTable({ openai: 'http://x', anthropic: 'not a url' })).toThrow(NoburnConfigError);
  });
});

describe('provider-shaped errors', () => {
  it('OpenAI: {error:{message,type,code}}, 402, not retryable', () => {
    const r = refusal(openai, 'run_budget_exceeded', 'gpt-4o');
    expect(r.status).toBe(402);
    expect(r.headers['x-should-retry']).toBe('false');
    const body = JSON.parse(r.body);
    expect(body.error).toMatchObject({ type: 'insufficient_quota', code: 'run_budget_exceeded' });
    expect(body.error.message).toMatch(/run budget cap/);
  });

  it("Anthropic: {type:'error', error:{type,message}}, 402 billing_error", () => {
    const body = JSON.parse(refusal(anthropic, 'run_budget_exceeded', 'claude-sonnet-4-5').body);
    expect(body).toMatchObject({ type: 'error', error: { type: 'billing_error' } });
    expect(JSON.parse(errorResponse(anthropic, 502, 'x', 'm', true).body).error.type).toBe('api_error');
  });
});
