/**
 * `noburn check --clamp`, the built CLI as a real process: a call whose output bound does
 * not fit holds the largest that does (down to the floor) instead of being refused, and
 * every refusal carries its figures (docs/cli.md). m1: 1,000 nano-dollars an input token,
 * 2,000 an output token.
 */
import { describe, expect, it } from 'vitest';
import { lines, writeConfig } from '../helpers/cli.js';
import { M1, useM1Suite } from '../helpers/e2e.js';
import type { Decision } from '../../src/lib/types.js';

const suite = useM1Suite('noburn-clamp-');

// 1000 input tokens ($0.001) and a 10,000-token output bound ($0.02) under a $0.01 cap: room for 4,500 output tokens.
const BIG = ['check', '--model', 'm1', '--tokens-in', '1000', '--tokens-out', '10000'];

describe('noburn check --clamp', () => {
  it('--json: holds the largest output that fits, with the figures', async () => {
    await suite.cli(['budget', 'set', '--project', '0.01']);
    const r = await suite.cli([...BIG, '--clamp', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as Decision;
    expect(d).toMatchObject({
      blocked: false,
      clamped: true,
      tokensIn: 1000,
      tokensOut: 4500,
      maxTokensOut: 4500,
      estimatedCostUsd: 0.01,
      estimate: { inputUsd: 0.001, outputUsd: 0.009 },
      limit: { scope: 'project', capUsd: 0.01, spentUsd: 0, heldUsd: 0, leftUsd: 0.01 },
    });
    expect(d.reservationId).toMatch(/^res_/);
  });

  it('text: the reservation id on stdout, the held output bound on stderr', async () => {
    await suite.cli(['budget', 'set', '--project', '0.01']);
    const r = await suite.cli([...BIG, '--clamp']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^res_[\w-]+\n$/);
    expect(lines(r.stderr)).toEqual(['allowed: m1, estimated $0.010000 (project $0.000000 left); clamped: hold 4500 output tokens (asked 10000): set max_tokens <= 4500']);
  });

  it('without --clamp the same call is refused, and the refusal says what would fit', async () => {
    await suite.cli(['budget', 'set', '--project', '0.01']);
    const r = await suite.cli(BIG);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual([
      'blocked: project_budget_exceeded (m1, estimated $0.021000)',
      '  project cap $0.010000: spent $0.000000, held $0.000000, left $0.010000; this call $0.021000 = input $0.001000 (1000 tokens) + output $0.020000 (10000 tokens); set max_tokens <= 4500',
    ]);
    const j = await suite.cli([...BIG, '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ blocked: true, clamped: false, maxTokensOut: 4500, hint: 'set max_tokens <= 4500', limit: { scope: 'project', leftUsd: 0.01 } });
  });

  it('below the floor it is refused; --min-tokens-out lowers the floor', async () => {
    await suite.cli(['budget', 'set', '--project', '0.0014']); // room for 200 output tokens
    const r = await suite.cli([...BIG, '--clamp']);
    expect(r.code).toBe(1);
    expect(lines(r.stderr)[1]).toMatch(/; set max_tokens <= 200 \(below the clamp floor minTokensOut 256\) or raise the project cap$/);
    const low = await suite.cli.json<Decision>([...BIG, '--clamp', '--min-tokens-out', '200']);
    expect(low).toMatchObject({ blocked: false, clamped: true, tokensOut: 200 });
  });

  it('the minTokensOut config key sets the default floor', async () => {
    writeConfig(suite.home, { prices: { m1: M1 }, minTokensOut: 100 });
    await suite.cli(['budget', 'set', '--project', '0.0014']);
    expect(await suite.cli.json<Decision>([...BIG, '--clamp'])).toMatchObject({ blocked: false, clamped: true, tokensOut: 200 });
  });

  it('a bad --min-tokens-out is a usage error (exit 2), nothing held', async () => {
    const r = await suite.cli([...BIG, '--clamp', '--min-tokens-out', 'many']);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toHaveLength(1);
  });
});
