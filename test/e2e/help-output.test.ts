/** contract §5: every command has --help with an example; NO_COLOR; --json keeps stdout for data. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, lines, removeHomes, snapshotDist, tempHome, writeConfig } from '../helpers/cli.js';
import type { Dist } from '../helpers/cli.js';
import { bindCli, M1 } from '../helpers/e2e.js';
import type { Cli } from '../helpers/e2e.js';

let dist: Dist;
let cli: Cli;

beforeAll(async () => {
  dist = await snapshotDist();
  const home = tempHome('noburn-help-');
  writeConfig(home, { prices: { m1: M1 } });
  cli = bindCli(dist.cli, home);
});

afterAll(() => {
  dist?.dispose();
  removeHomes();
});

const COMMANDS = [['check'], ['record'], ['run'], ['run', 'start'], ['run', 'end'], ['run', 'show'], ['run', 'list'], ['budget'], ['budget', 'set'], ['budget', 'show'], ['spend'], ['prices'], ['config', 'show'], ['config', 'validate']];

describe('--help', () => {
  it.each(COMMANDS.map((c) => [c.join(' '), c] as const))('noburn %s --help shows an example of itself', async (name, cmd) => {
    const r = await cli([...cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: noburn ${name}`);
    const after = r.stdout.split(/^Example:$/m)[1] ?? '';
    expect(after, r.stdout).toMatch(new RegExp(`noburn ${name}\\b`));
    if (name !== 'budget') expect(r.stdout).toContain('--json'); // a group: its subcommands take --json
    expect(r.stderr).toBe('');
  });

  it('noburn --help lists every command; --version prints the package version', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['check', 'record', 'run', 'budget', 'spend', 'prices', 'config']) expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const v = await cli(['--version']);
    expect(v).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });
});

describe('output streams and colour', () => {
  const ESC = '\u001b[';
  const sample = [
    ['check', '--model', 'm1', '--tokens-in', '10', '--tokens-out', '10'],
    ['check', '--model', 'no-such-model-xyz', '--tokens-in', '10', '--tokens-out', '10'],
    ['budget', 'set', '--project', '1'],
    ['budget', 'show'],
    ['spend', '--by', 'model'],
    ['check', '--frobnicate'],
    ['--help'],
  ];

  it.each(sample.map((a) => [a.join(' '), a] as const))('NO_COLOR: no escape codes from `%s`, even with FORCE_COLOR', async (_n, args) => {
    const r = await cli(args, { env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
    expect(r.stdout + r.stderr).not.toContain(ESC);
    expect(r.stdout + r.stderr).not.toBe('');
  });

  it.each([
    [['check', '--model', 'm1', '--tokens-in', '10', '--tokens-out', '10']],
    [['check', '--model', 'no-such-model-xyz', '--tokens-in', '10', '--tokens-out', '10']],
    [['run', 'start', '--cap', '1']],
    [['run', 'list']],
    [['budget', 'set', '--user', 'u9', '1']],
    [['budget', 'show']],
    [['spend', '--by', 'day']],
    [['prices', 'm1']],
    [['record', '--model', 'm1', '--tokens-in', '1', '--tokens-out', '1']],
  ])('--json: stdout is one JSON document and nothing else (%j)', async (args) => {
    const r = await cli([...args, '--json']);
    expect([0, 1]).toContain(r.code);
    expect(() => JSON.parse(r.stdout) as unknown).not.toThrow();
    expect(r.stdout.trimStart().startsWith('[') || r.stdout.trimStart().startsWith('{')).toBe(true);
    // stderr never carries the data
    expect(r.stderr).not.toMatch(/^[[{]/m);
    if (r.code === 1) expect(lines(r.stderr)).toHaveLength(1);
  });
});
