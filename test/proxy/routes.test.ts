import { describe, expect, it } from 'vitest';
import { NoburnConfigError } from '../../src/lib/errors.js';
import { errorResponse, refusal } from '../../src/proxy/refusal.js';
import { matchRoute, routeTable } from '../../src/proxy/routes.js';

const table = routeTable({ openai: 'https://gw.example.com/openai/v1/', anthropic: 'http://127.0.0.1:9999' });

describe('routes', () => {
  it('maps /openai/v1/X onto the OpenAI base (which carries /v1) and keeps the query', () => {
    expect(matchRoute('/openai/v1/chat/completions?x=1', table)).toEqual({ provider: 'openai', kind: 'chat', origin: 'https://gw.example.com', path: '/openai/v1/chat/completions?x=1' });
    expect(matchRoute('/openai/v1/models', table)).toMatchObject({ kind: null, path: '/openai/v1/models' });
    expect(matchRoute('/openai/v1/responses', table)).toMatchObject({ kind: 'responses' });
    expect(matchRoute('/openai/v1/embeddings', table)).toMatchObject({ kind: 'embeddings' });
    expect(matchRoute('/openai/v1/completions', table)).toMatchObject({ kind: 'completions' });
    expect(matchRoute('/openai/v1/responses/resp_1', table)).toMatchObject({ kind: null });
  });

  it('maps /anthropic/X onto the Anthropic base (the SDK adds /v1 itself)', () => {
    expect(matchRoute('/anthropic/v1/messages', table)).toEqual({ provider: 'anthropic', kind: 'messages', origin: 'http://127.0.0.1:9999', path: '/v1/messages' });
    expect(matchRoute('/anthropic/v1/messages/count_tokens', table)).toMatchObject({ kind: null, path: '/v1/messages/count_tokens' });
  });

  it('other paths are not routed', () => {
    expect(matchRoute('/v1/chat/completions', table)).toBeNull();
    expect(matchRoute('/openaiX/v1/chat/completions', table)).toBeNull();
  });

  it('rejects a non-http upstream', () => {
    expect(() => routeTable({ openai: 'ftp://x', anthropic: 'http://y' })).toThrow(/OPENAI_BASE_URL/);
    expect(() => routeTable({ openai: 'http://x', anthropic: 'not a url' })).toThrow(NoburnConfigError);
  });
});

describe('provider-shaped errors', () => {
  it('OpenAI: {error:{message,type,code}}, 402, not retryable', () => {
    const r = refusal('openai', 'run_budget_exceeded', 'gpt-4o');
    expect(r.status).toBe(402);
    expect(r.headers['x-should-retry']).toBe('false');
    const body = JSON.parse(r.body);
    expect(body.error).toMatchObject({ type: 'insufficient_quota', code: 'run_budget_exceeded' });
    expect(body.error.message).toMatch(/run budget cap/);
  });

  it("Anthropic: {type:'error', error:{type,message}}, 402 billing_error", () => {
    const body = JSON.parse(refusal('anthropic', 'run_budget_exceeded', 'claude-sonnet-4-5').body);
    expect(body).toMatchObject({ type: 'error', error: { type: 'billing_error' } });
    expect(JSON.parse(errorResponse('anthropic', 502, 'x', 'm', true).body).error.type).toBe('api_error');
  });
});
