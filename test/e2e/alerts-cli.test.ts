/** Alerts on the CLI (docs/cli.md): `budget set --alert-at`, `alerts list`, `run --alert-at` lines on stderr; the built CLI as a real process. */
import { describe, expect, it } from 'vitest';
import { lines } from '../helpers/cli.js';
import { useM1Suite } from '../helpers/e2e.js';

const suite = useM1Suite('noburn-e2e-alerts-');
const recordCost = (usd: string) => ['record', '--model', 'm1', '--tokens-in', '1', '--tokens-out', '1', '--cost', usd];

describe('noburn alerts', () => {
  it('budget set --alert-at sets thresholds (shown by budget show); a record that reaches one fires it once; alerts list shows it pending', async () => {
    expect(await suite.cli.json(['budget', 'set', '--project', '1', '--period', 'total', '--alert-at', '80,50'])).toEqual({
      scope: 'project', userId: null, capUsd: 1, period: 'total', alertAt: [50, 80],
    });
    const show = await suite.cli(['budget', 'show']);
    expect(lines(show.stdout)[0]).toMatch(/WINDOW START\s+ALERT AT$/);
    expect(show.stdout).toMatch(/50%,80%$/m);
    expect((await suite.cli(['alerts', 'list'])).stderr).toMatch(/^no alerts fired/);
    // No webhook nor command, and a short-lived record: nothing waits on delivery.
    expect((await suite.cli(recordCost('0.6'))).code).toBe(0);
    expect((await suite.cli(recordCost('0.1'))).code).toBe(0);
    const list = await suite.cli.json<{ scope: string; threshold: number; spentUsd: number; deliveredAt: string | null }[]>(['alerts', 'list', '--json']);
    expect(list.map((a) => [a.scope, a.threshold, a.spentUsd, a.deliveredAt])).toEqual([['project', 50, 0.6, null]]);
    const plain = await suite.cli(['alerts', 'list']);
    expect(lines(plain.stdout)[0]).toMatch(/^FIRED\s+SCOPE\s+SUBJECT/);
    expect(plain.stdout).toMatch(/project\s+50%\s+\$0\.600000\s+\$1\.000000\s+total\s+pending/);
  });

  it('bad --alert-at is exit 2 with one line and sets nothing; --alert-at none removes them', async () => {
    for (const bad of ['0', '1001', '50,x', '']) {
      const r = await suite.cli(['budget', 'set', '--project', '1', '--alert-at', bad]);
      expect(r.code, bad).toBe(2);
      expect(lines(r.stderr)).toHaveLength(1);
    }
    expect(await suite.cli.json(['budget', 'show', '--json'])).toEqual([]);
    await suite.cli(['budget', 'set', '--project', '1', '--alert-at', '50']);
    await suite.cli(['budget', 'set', '--project', '2', '--alert-at', 'none']);
    const [b] = await suite.cli.json<{ capUsd: number; alertAt?: number[] }[]>(['budget', 'show', '--json']);
    expect(b).toMatchObject({ capUsd: 2 });
    expect(b?.alertAt).toBeUndefined();
  });

  it("run --alert-at prints a line on stderr for its own run's cap when the run reaches it", async () => {
    // The command records through the CLI itself (NOBURN_RUN_ID is its run).
    const r = await suite.cli(['run', '--cap', '1', '--alert-at', '50,90', '--no-proxy', '--', process.execPath, suite.dist.cli, ...recordCost('0.6')]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^noburn: run run_\S+ reached 50% of its \$1\.00 cap \(\$0\.60 spent\)$/m);
    expect(r.stderr).not.toMatch(/reached 90%/);
    const noCap = await suite.cli(['run', '--alert-at', '50', '--no-proxy', '--', process.execPath, '-e', '']);
    expect(noCap.code).toBe(2);
  });
});
