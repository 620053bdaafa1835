/**
 * Nested runs (docs/run.md, "Nested runs"): a `noburn run` started inside another registers
 * a child of the outer run and forwards to the real upstream, so each call is recorded once
 * (project spend equals the upstream's usage, not twice it), the outer run's spend includes
 * the child's, and the inner cap stops the child's calls.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { runCli } from '../helpers/cli.js';
import { costNano, toNano } from '../proxy/helpers.js';
import { FIXTURES, useRunSuite } from './harness.js';

const suite = useRunSuite();

describe('noburn run inside noburn run', () => {
  it('records each call once, in the child run and in its parent; the inner cap applies', async () => {
    const upstream = await suite.upstream();
    const home = suite.home();
    const resultFile = join(home.home, 'result.json');
    const env = { RESULT_FILE: resultFile, OPENAI_API_KEY: 'sk-openai-test', OPENAI_BASE_URL: upstream.openaiBase };
    const inner = [process.execPath, suite.dist.cli, 'run', '--cap', '0.0011', '--label', 'inner', '--json', '--', process.execPath, join(FIXTURES, 'openai-client.mjs')];
    const r = await runCli(suite.dist.cli, ['run', '--cap', '1', '--label', 'outer', '--json', '--', ...inner], { home: home.home, env });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(resultFile, 'utf8')) as { ok: number; error: { status?: number } | null };
    expect(result.ok).toBeGreaterThan(0);

    const served = upstream.served.reduce((sum, c) => sum + (c.usage && c.model ? costNano(c.model, c.usage) : 0), 0);
    expect(served).toBeGreaterThan(0);
    const guard = new NoburnGuard({ home: home.home, env: {} });
    try {
      const runs = await guard.listRuns();
      expect(runs.map((x) => x.label).sort()).toEqual(['inner', 'outer']);
      const outer = runs.find((x) => x.label === 'outer')!;
      const outerId = outer.runId;
      expect(outer.parentRunId).toBeNull();
      const children = await guard.listRuns(undefined, { parentRunId: outerId });
      expect(children).toHaveLength(1);
      const child = children[0]!;
      expect(child.parentRunId).toBe(outerId);
      expect(child.label).toBe('inner');
      // Once in the child, once (rolled up) in the parent, once in the project: never twice.
      expect(toNano(child.spendUsd)).toBe(served);
      expect(toNano(outer.spendUsd)).toBe(served);
      const spend = await guard.spend({});
      expect(toNano(spend.totalUsd)).toBe(served);
      // The inner cap stopped the child; the call that did not fit never reached the upstream.
      expect(child.exhausted).toBe(true);
      expect(toNano(child.spendUsd)).toBeLessThanOrEqual(toNano(0.0011));
    } finally {
      await guard.close();
    }
  });
});
