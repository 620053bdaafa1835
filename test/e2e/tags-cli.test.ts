/** Tags on the CLI: `check/record --tag`, `budget set --tag`, `spend --by tag:KEY`; the built CLI as a real process. */
import { describe, expect, it } from 'vitest';
import { lines } from '../helpers/cli.js';
import { useM1Suite } from '../helpers/e2e.js';

const suite = useM1Suite('noburn-e2e-tags-');
const checkArgs = (...tags: string[]) => ['check', '--model', 'm1', '--tokens-in', '1000', '--tokens-out', '300', ...tags.flatMap((t) => ['--tag', t])];

describe('noburn tags', () => {
  it('budget set --tag caps the calls carrying the tag (tag_budget_exceeded, exit 1) and leaves other calls alone', async () => {
    expect(await suite.cli.json(['budget', 'set', '--tag', 'feature=search', '0.002', '--period', 'day'])).toEqual({
      scope: 'tag', userId: null, tag: 'feature=search', capUsd: 0.002, period: 'day',
    });
    // m1: 1000 in + 300 out = $0.0016: one fits under $0.002, the second does not.
    await suite.cli(['record', '--model', 'm1', '--tokens-in', '1000', '--tokens-out', '300', '--tag', 'feature=search', '--tag', 'team=core']);
    const blocked = await suite.cli.json<{ blocked: boolean; blockReason: string; limit: { scope: string } }>(checkArgs('feature=search'), { code: 1 });
    expect(blocked).toMatchObject({ blocked: true, blockReason: 'tag_budget_exceeded', limit: { scope: 'tag' } });
    const plain = await suite.cli(checkArgs('team=core', 'feature=search'));
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^blocked: tag_budget_exceeded/m);
    for (const other of [checkArgs('feature=chat'), checkArgs('team=core'), checkArgs()]) expect((await suite.cli(other)).code).toBe(0);

    const show = await suite.cli(['budget', 'show']);
    expect(lines(show.stdout)[0]).toMatch(/^SCOPE\s+USER\s+TAG\s+CAP\s+PERIOD/);
    expect(show.stdout).toMatch(/^tag\s+feature=search\s+\$0\.002000\s+day\s+\$0\.001600/m);
  });

  it('spend --by tag:KEY groups by the value of that key; calls without it are (none)', async () => {
    await suite.cli(['record', '--model', 'm1', '--tokens-in', '1000', '--tokens-out', '0', '--tag', 'feature=search,team=core']);
    await suite.cli(['record', '--model', 'm1', '--tokens-in', '2000', '--tokens-out', '0', '--tag', 'feature=chat']);
    await suite.cli(['record', '--model', 'm1', '--tokens-in', '4000', '--tokens-out', '0']);
    const r = await suite.cli.json<{ by: string; rows: { key: string | null; spendUsd: number; calls: number }[] }>(['spend', '--by', 'tag:feature']);
    expect(r.by).toBe('tag:feature');
    expect(r.rows.map((x) => [x.key, x.spendUsd, x.calls])).toEqual([[null, 0.004, 1], ['chat', 0.002, 1], ['search', 0.001, 1]]);
    const plain = await suite.cli(['spend', '--by', 'tag:feature']);
    expect(lines(plain.stdout)[0]).toMatch(/^TAG:FEATURE\s+SPEND/);
    expect(plain.stdout).toMatch(/^\(none\)\s+\$0\.004000/m);
  });

  it('bad tags: one line, exit 2, nothing recorded or set', async () => {
    const bad = [
      checkArgs('feature'),
      checkArgs('feature=a b'),
      checkArgs('a=1', 'a=2'),
      checkArgs(...Array.from({ length: 9 }, (_, i) => `k${i}=v`)),
      ['record', '--model', 'm1', '--tokens-in', '1', '--tokens-out', '1', '--tag', 'x='],
      ['budget', 'set', '--tag', 'nokey', '1'],
      ['budget', 'set', '--tag', 'a=1', '--project', '1'],
      ['spend', '--by', 'tag:'],
      ['spend', '--by', 'tags'],
    ];
    for (const args of bad) {
      const r = await suite.cli(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(lines(r.stderr), args.join(' ')).toHaveLength(1);
    }
    expect(await suite.cli.json(['budget', 'show'])).toEqual([]);
    expect(await suite.cli.json(['spend'])).toMatchObject({ calls: 0, blockedCalls: 0 });
  });
});
