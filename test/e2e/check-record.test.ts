/** `noburn check` and `noburn record`, the built CLI as a real process. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { lines } from '../helpers/cli.js';
import { m1Nano, nano, useM1Suite } from '../helpers/e2e.js';

const suite = useM1Suite('noburn-e2e-');

const M1_CHECK = ['check', '--model', 'm1', '--tokens-in', '1000', '--tokens-out', '300'];
const usd6 = (n: number) => `$${(n / 1e9).toFixed(6)}`;

interface Decision {
  blocked: boolean;
  blockReason: string | null;
  estimatedCostUsd: number;
  reservationId: string | null;
  remaining: Record<string, number>;
  source: string;
  unpriced: boolean;
  estimatedTokensIn: number;
}

describe('noburn check', () => {
  it('allowed: exit 0, the reservation id alone on stdout, a summary on stderr', async () => {
    const r = await suite.cli(M1_CHECK);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^res_[\w-]+\n$/);
    expect(lines(r.stderr)).toEqual([`allowed: m1, estimated ${usd6(m1Nano(1000, 300))}`]);
  });

  it('--json: the decision, and nothing on stderr', async () => {
    await suite.cli(['budget', 'set', '--project', '1']);
    const r = await suite.cli([...M1_CHECK, '--user', 'u1', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const { decisionId, ...d } = JSON.parse(r.stdout) as Decision & { decisionId?: string | null };
    // decisionId (the event feed's id) is optional; when present, an allowed call's is its reservation id.
    if (decisionId !== undefined) expect(decisionId).toBe(d.reservationId);
    expect(d).toEqual({
      blocked: false,
      blockReason: null,
      estimatedCostUsd: m1Nano(1000, 300) / 1e9,
      reservationId: expect.stringMatching(/^res_/) as unknown as string,
      remaining: { projectUsd: (1e9 - m1Nano(1000, 300)) / 1e9 },
      source: 'ledger',
      unpriced: false,
      estimatedTokensIn: 1000,
      // The hold's figures (docs/semantics.md, "Refusal figures").
      tokensIn: 1000,
      tokensOut: 300,
      clamped: false,
      estimate: { inputUsd: m1Nano(1000, 0) / 1e9, outputUsd: (m1Nano(1000, 300) - m1Nano(1000, 0)) / 1e9 },
      limit: { scope: 'project', capUsd: 1, spentUsd: 0, heldUsd: 0, leftUsd: 1 },
      maxTokensOut: 499500,
      hint: null,
    });
  });

  it('prices a real model at the price `noburn prices` reports', async () => {
    const p = await suite.cli.json<{ inputPerMTok: number; outputPerMTok: number }>(['prices', 'gpt-4o']);
    const d = await suite.cli.json<Decision>(['check', '--model', 'gpt-4o', '--tokens-in', '1000', '--tokens-out', '300']);
    expect(nano(d.estimatedCostUsd)).toBe((1000 * nano(p.inputPerMTok) + 300 * nano(p.outputPerMTok)) / 1e6);
    expect(d.estimatedCostUsd).toBeGreaterThan(0);
  });

  it('blocked by the project cap: exit 1, the reason on stderr, nothing on stdout', async () => {
    await suite.cli(['budget', 'set', '--project', '0.0025', '--period', 'day']);
    expect((await suite.cli(M1_CHECK)).code).toBe(0); // 0.0016 of 0.0025
    const r = await suite.cli(M1_CHECK);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    // The reason, then the refusal figures (docs/cli.md).
    expect(lines(r.stderr)).toEqual([
      `blocked: project_budget_exceeded (m1, estimated ${usd6(m1Nano(1000, 300))})`,
      '  project cap $0.002500: spent $0.000000, held $0.001600, left $0.000900; this call $0.001600 = input $0.001000 (1000 tokens) + output $0.000600 (300 tokens); ' +
        'the input alone ($0.001000) exceeds what is left under the project cap ($0.000900): shorten the prompt or raise the cap',
    ]);
    const j = await suite.cli([...M1_CHECK, '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({ blocked: true, blockReason: 'project_budget_exceeded', reservationId: null, source: 'ledger' });
    expect(j.stderr).toMatch(/^blocked: project_budget_exceeded/);
  });

  it('blocked by a user cap, for that user only', async () => {
    await suite.cli(['budget', 'set', '--user', 'u1', '0.001']);
    expect((await suite.cli([...M1_CHECK, '--user', 'u1'])).code).toBe(1);
    expect((await suite.cli([...M1_CHECK, '--user', 'u2'])).code).toBe(0);
  });

  it('an unpriced model is blocked (unknown_model_price), never silently $0', async () => {
    const r = await suite.cli(['check', '--model', 'no-such-model-xyz', '--tokens-in', '1', '--tokens-out', '1', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ blocked: true, blockReason: 'unknown_model_price', unpriced: true });
  });

  it('an unknown run (flag or NOBURN_RUN_ID) and an ended run are blocked', async () => {
    expect((await suite.cli([...M1_CHECK, '--run', 'run_nope'])).stderr).toContain('run_not_found');
    const viaEnv = await suite.cli(M1_CHECK, { env: { NOBURN_RUN_ID: 'run_nope' } });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toContain('run_not_found');
    const id = (await suite.cli(['run', 'start', '--cap', '1'])).stdout.trim();
    expect((await suite.cli([...M1_CHECK, '--run', id])).code).toBe(0);
    await suite.cli(['run', 'end', id]);
    const ended = await suite.cli([...M1_CHECK, '--run', id]);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toContain('run_ended');
  });

  const PROMPT = 'You are a careful assistant.\nSummarise: "Les coûts des LLM doivent être plafonnés" — 42 tokens? 🔥\n';

  it('--prompt-file estimates input tokens with the o200k tokenizer', async () => {
    const file = join(suite.home, 'prompt.txt');
    writeFileSync(file, PROMPT);
    const tokens = countTokens(PROMPT);
    expect(tokens).toBeGreaterThan(10);
    const d = await suite.cli.json<Decision>(['check', '--model', 'm1', '--prompt-file', file, '--tokens-out', '7']);
    expect(d.estimatedTokensIn).toBe(tokens);
    expect(nano(d.estimatedCostUsd)).toBe(m1Nano(tokens, 7));
  });

  it('--prompt-file - reads stdin', async () => {
    const d = await suite.cli.json<Decision>(['check', '--model', 'm1', '--prompt-file', '-', '--tokens-out', '0'], { input: PROMPT });
    expect(d.estimatedTokensIn).toBe(countTokens(PROMPT));
  });
});

interface Budget {
  scope: string;
  spentUsd: number;
  heldUsd: number;
}

interface Spend {
  totalUsd: number;
  calls: number;
  blockedCalls: number;
  unpricedCalls: number;
}

describe('noburn record', () => {
  async function project(): Promise<Budget> {
    const bs = await suite.cli.json<Budget[]>(['budget', 'show']);
    const b = bs.find((x) => x.scope === 'project');
    if (!b) throw new Error('no project budget');
    return b;
  }

  it('settles the hold of its reservation and adds the cost priced from tokens', async () => {
    await suite.cli(['budget', 'set', '--project', '1']);
    const res = (await suite.cli(M1_CHECK)).stdout.trim();
    expect(nano((await project()).heldUsd)).toBe(m1Nano(1000, 300));
    const r = await suite.cli(['record', '--model', 'm1', '--tokens-in', '900', '--tokens-out', '250', '--reservation', res]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(lines(r.stderr)).toEqual(['recorded']);
    const b = await project();
    expect(b.heldUsd).toBe(0);
    expect(nano(b.spentUsd)).toBe(m1Nano(900, 250));
  });

  it('--idempotency-key K twice counts once', async () => {
    const args = ['record', '--model', 'm1', '--tokens-in', '10', '--tokens-out', '20', '--idempotency-key', 'K-1'];
    expect(await suite.cli.json(args)).toEqual({ accepted: 1, duplicates: 0, queued: 0 });
    expect(await suite.cli.json(args)).toEqual({ accepted: 0, duplicates: 1, queued: 0 });
    const plain = await suite.cli(args);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toMatch(/already recorded/);
    const s = await suite.cli.json<Spend>(['spend']);
    expect(s.calls).toBe(1);
    expect(nano(s.totalUsd)).toBe(m1Nano(10, 20));
  });

  it('--cost wins over the token price; --blocked costs nothing and counts as blocked', async () => {
    await suite.cli(['record', '--model', 'm1', '--tokens-in', '10', '--tokens-out', '20', '--cost', '0.123456789']);
    const res = (await suite.cli(M1_CHECK)).stdout.trim();
    await suite.cli(['record', '--model', 'm1', '--tokens-in', '0', '--tokens-out', '0', '--blocked', '--reservation', res]);
    const s = await suite.cli.json<Spend>(['spend']);
    expect(nano(s.totalUsd)).toBe(123_456_789);
    expect(s.blockedCalls).toBe(1);
    await suite.cli(['budget', 'set', '--project', '5']);
    expect((await project()).heldUsd).toBe(0); // the blocked record released the hold
  });

  it('a record without --cost for an unpriced model is stored and counted as unpriced', async () => {
    const r = await suite.cli.json(['record', '--model', 'no-such-model-xyz', '--tokens-in', '10', '--tokens-out', '5']);
    expect(r).toEqual({ accepted: 1, duplicates: 0, queued: 0 });
    const s = await suite.cli(['spend']);
    expect(s.stdout).toMatch(/unpriced 1/);
    expect(s.stderr).toMatch(/1 unpriced call/);
    expect((await suite.cli.json<Spend>(['spend'])).unpricedCalls).toBe(1);
  });
});
