/**
 * Clamped checks across processes (docs/semantics.md, "Bounded holds"): eight real OS
 * processes on one ledger file ask for more output than fits; each decision computes its
 * room and clamped hold inside the write lock, so together they never hold past a cap, and
 * the last approvals are clamped rather than refused.
 */
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as Lib from '../../src/lib/index.js';
import { tempHome, useDist, writeConfig } from '../helpers/cli.js';
import { hammer } from '../helpers/workers.js';

const WORKERS = 8;
const MODEL = 'm1';
const PRICE = { inputPerMTok: 1, outputPerMTok: 2 }; // 1,000 nano-dollars an input token, 2,000 an output token

const dist = useDist();
let lib: typeof Lib;

beforeAll(async () => {
  lib = (await import(pathToFileURL(dist.index).href)) as typeof Lib;
});

describe('clamped checks from 8 processes on one ledger file', () => {
  it.each([
    { scope: 'project', cap: 0.0537 },
    { scope: 'run', cap: 0.0411 },
  ] as const)('$scope cap $cap: held together <= cap, the floor respected', async ({ scope, cap }) => {
    const home = tempHome('noburn-clamp-conc-');
    writeConfig(home, { prices: { [MODEL]: PRICE } });
    const g = new lib.NoburnGuard({ home });
    let runId: string | undefined;
    if (scope === 'project') await g.setBudget({ scope: 'project', capUsd: cap, period: 'total' });
    else runId = (await g.startRun({ budgetCapUsd: cap })).runId;
    // 500 in + 4000 out = $0.0085 asked; the floor (300 out) costs $0.0011.
    const rs = await hammer(dist.index, home, WORKERS, { model: MODEL, tokensIn: 500, tokensOut: 4000, attempts: 6, clamp: true, minTokensOut: 300, ...(runId ? { runId } : {}) });
    const held = rs.reduce((n, r) => n + (r.heldNano ?? 0), 0);
    const clamped = rs.reduce((n, r) => n + (r.clamped ?? 0), 0);
    const capNano = lib.usdToNano(cap);
    expect(held).toBeLessThanOrEqual(capNano);
    // What is left is less than one floor: nothing that fits was refused.
    expect(capNano - held).toBeLessThan(1_100_000);
    expect(clamped).toBeGreaterThanOrEqual(1);
    const ledgerHeld = scope === 'project' ? (await g.getBudgets())[0]?.heldUsd : (await g.getRun(runId as string)).heldUsd;
    expect(lib.usdToNano(ledgerHeld ?? -1)).toBe(held);
    if (runId) expect((await g.getRun(runId)).clampedCalls).toBe(clamped);
    await g.close();
  });
});
