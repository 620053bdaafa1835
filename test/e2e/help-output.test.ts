/** contract §5: every command has --help with an example; NO_COLOR; --json keeps stdout for data. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { lines, REPO_ROOT, tempHome, useDist, writeConfig } from '../helpers/cli.js';
import { bindCli, M1 } from '../helpers/e2e.js';
import type { Cli } from '../helpers/e2e.js';
import type { CommandUnknownOpts } from '@commander-js/extra-typings';
import { buildProgram } from '../../src/cli/registry.js';

const dist = useDist();
let cli: Cli;

beforeAll(async () => {
  const home = tempHome('noburn-help-');
  writeConfig(home, { prices: { m1: M1 } });
  cli = bindCli(dist.cli, home);
});

/** Every command and subcommand the program defines (so a new one cannot be left out), with whether it is only a group of subcommands. */
function commandTree(): Array<{ path: string[]; group: boolean }> {
  const all: Array<{ path: string[]; group: boolean }> = [];
  const walk = (cmd: CommandUnknownOpts, path: string[]): void => {
    for (const sub of cmd.commands) {
      const p = [...path, sub.name()];
      all.push({ path: p, group: sub.commands.length > 0 && sub.options.length === 0 });
      walk(sub, p);
    }
  };
  walk(buildProgram({ out: () => {}, err: () => {}, json: () => {}, write: () => Promise.resolve(), color: false }, () => {}), []);
  return all;
}

const COMMANDS = commandTree();

describe('--help', () => {
  it('the tree holds every command, the operator ones included', () => {
    expect(COMMANDS.map((c) => c.path.join(' '))).toEqual(expect.arrayContaining(['check', 'run list', 'budget set', 'watch', 'serve', 'keys', 'keys create', 'keys revoke', 'config validate']));
  });

  it.each(COMMANDS.map((c) => [c.path.join(' '), c] as const))('noburn %s --help shows an example of itself', async (name, { path, group }) => {
    const r = await cli([...path, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: noburn ${name}`);
    const after = r.stdout.split(/^Example:$/m)[1] ?? '';
    expect(after, r.stdout).toMatch(new RegExp(`noburn ${name}\\b`));
    if (!group) expect(r.stdout).toContain('--json'); // a group: its subcommands take --json
    expect(r.stderr).toBe('');
  });

  it('noburn --help lists every command; --version prints the package version', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS.filter((x) => x.path.length === 1)) expect(r.stdout).toMatch(new RegExp(`^\\s+${c.path[0]}\\b`, 'm'));
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
