/**
 * Issue 2, "what it must show" 4 / contract §7 "Bad input": every malformed invocation gets
 * exactly one line on stderr (no stack trace), nothing on stdout, its documented exit code
 * (src/cli/exit-codes.ts), and leaves every row of the ledger as it was.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type * as Lib from '../../src/lib/index.js';
import { ExitCodes } from '../../src/cli/exit-codes.js';
import { lines, runCli, tempHome, useDist, writeConfig } from '../helpers/cli.js';
import { ledgerSnapshot } from '../helpers/ledger-snapshot.js';

const dist = useDist();
let home: string;
let db: string;
/** Placeholders in the table's arguments: $OPEN and $ENDED run ids, $PROMPT (a real file), $DIR (a folder). */
const vars: Record<string, string> = {};

beforeAll(async () => {
  home = tempHome('noburn-bad-');
  db = join(home, 'noburn.db');
  // A ledger with some of everything in it, written through the built library.
  const lib = (await import(pathToFileURL(dist.index).href)) as typeof Lib;
  const g = new lib.NoburnGuard({ home });
  await g.setBudget({ scope: 'project', capUsd: 5, period: 'day' });
  await g.setBudget({ scope: 'user', userId: 'alice', capUsd: 1, period: 'week' });
  await g.setBudget({ scope: 'default_user', capUsd: 0.5, period: 'month' });
  const open = await g.startRun({ budgetCapUsd: 1, label: 'open' });
  const ended = await g.startRun({ budgetCapUsd: 2 });
  await g.endRun(ended.runId);
  const d = await g.check({ model: 'gpt-4o', estimatedTokensIn: 1000, estimatedTokensOut: 300, endUserId: 'alice', runId: open.runId });
  expect(d.blocked).toBe(false);
  await g.recordNow({ model: 'gpt-4o', tokensIn: 900, tokensOut: 250, endUserId: 'alice', runId: open.runId, reservationId: d.reservationId, idempotencyKey: 'k1' });
  await g.check({ model: 'gpt-4o', estimatedTokensIn: 10, estimatedTokensOut: 10 });
  await g.close();
  vars['$OPEN'] = open.runId;
  vars['$ENDED'] = ended.runId;
  vars['$PROMPT'] = join(home, 'prompt.txt');
  writeFileSync(vars['$PROMPT'], 'Say hello.');
  vars['$DIR'] = join(home, 'a-folder');
  mkdirSync(vars['$DIR']);
  const snap = ledgerSnapshot(db);
  // The seed really wrote rows everywhere the cases could touch.
  for (const t of ['budgets', 'runs', 'holds', 'records', 'usage', 'events', 'prices']) expect(snap[t]?.length, t).toBeGreaterThan(0);
});

interface Case {
  args: string[];
  code: number;
  /** A word the one line must contain, so the message says what was wrong. */
  says: RegExp;
  env?: Record<string, string>;
  /** config.json content for this case only. */
  config?: string;
}

const CHECK = ['check', '--model', 'gpt-4o'];
const RECORD = ['record', '--model', 'gpt-4o', '--tokens-in', '10'];
const { USAGE, NOT_FOUND, CONFLICT } = ExitCodes;

const cases: Record<string, Case> = {
  'negative tokens': { args: [...CHECK, '--tokens-in', '-5', '--tokens-out', '3'], code: USAGE, says: /tokens-in/ },
  'NaN tokens': { args: [...CHECK, '--tokens-in', 'NaN', '--tokens-out', '3'], code: USAGE, says: /tokens-in/ },
  'huge tokens (1e999)': { args: [...CHECK, '--tokens-in', '1e999', '--tokens-out', '3'], code: USAGE, says: /tokens-in/ },
  'tokens past the maximum': { args: [...CHECK, '--tokens-in', '10', '--tokens-out', '99999999999999999999'], code: USAGE, says: /tokens-out/ },
  'fractional tokens': { args: [...CHECK, '--tokens-in', '1.5', '--tokens-out', '3'], code: USAGE, says: /tokens-in/ },
  'empty token count': { args: [...CHECK, '--tokens-in', '', '--tokens-out', '3'], code: USAGE, says: /tokens-in/ },
  'unknown flag': { args: [...CHECK, '--tokens-in', '1', '--tokens-out', '3', '--frobnicate'], code: USAGE, says: /frobnicate/ },
  'unknown command': { args: ['frobnicate'], code: USAGE, says: /frobnicate/ },
  'missing --model': { args: ['check', '--tokens-in', '1', '--tokens-out', '3'], code: USAGE, says: /model/ },
  'missing --tokens-out': { args: [...CHECK, '--tokens-in', '1'], code: USAGE, says: /tokens-out/ },
  'neither --tokens-in nor --prompt-file': { args: [...CHECK, '--tokens-out', '3'], code: USAGE, says: /tokens-in/ },
  'both --tokens-in and --prompt-file': { args: [...CHECK, '--tokens-in', '1', '--tokens-out', '3', '--prompt-file', '$PROMPT'], code: USAGE, says: /prompt-file/ },
  '--prompt-file missing': { args: [...CHECK, '--tokens-out', '3', '--prompt-file', '/nonexistent/prompt.txt'], code: USAGE, says: /prompt\.txt/ },
  '--prompt-file is a folder': { args: [...CHECK, '--tokens-out', '3', '--prompt-file', '$DIR'], code: USAGE, says: /a-folder/ },
  'empty model name': { args: ['check', '--model', '', '--tokens-in', '1', '--tokens-out', '3'], code: USAGE, says: /model/ },
  'control character in user id': { args: [...CHECK, '--tokens-in', '1', '--tokens-out', '3', '--user', 'a\tb'], code: USAGE, says: /user/ },
  'record: missing --tokens-out': { args: RECORD, code: USAGE, says: /tokens-out/ },
  'record: cached tokens above tokens in': { args: [...RECORD, '--tokens-out', '1', '--cached-tokens-in', '11'], code: USAGE, says: /cached/i },
  'record: bad --cost': { args: [...RECORD, '--tokens-out', '1', '--cost', 'abc'], code: USAGE, says: /cost/ },
  'record: negative --cost': { args: [...RECORD, '--tokens-out', '1', '--cost', '-1'], code: USAGE, says: /cost/ },
  'record: unknown --run': { args: [...RECORD, '--tokens-out', '1', '--run', 'run_doesnotexist'], code: NOT_FOUND, says: /run_doesnotexist/ },
  'budget set: money "abc"': { args: ['budget', 'set', '--project', 'abc'], code: USAGE, says: /abc/ },
  'budget set: money "-1"': { args: ['budget', 'set', '--project', '--', '-1'], code: USAGE, says: /-1/ },
  'budget set: money "-1" as a flag': { args: ['budget', 'set', '--project', '-1'], code: USAGE, says: /-1/ },
  'budget set: money "1e999"': { args: ['budget', 'set', '--project', '1e999'], code: USAGE, says: /1e999/ },
  'budget set: money "0.1.2"': { args: ['budget', 'set', '--project', '0.1.2'], code: USAGE, says: /0\.1\.2/ },
  'budget set: money above the maximum': { args: ['budget', 'set', '--project', '99999999'], code: USAGE, says: /99999999/ },
  'budget set: bad period': { args: ['budget', 'set', '--project', '5', '--period', 'fortnight'], code: USAGE, says: /period/ },
  'budget set: two scopes': { args: ['budget', 'set', '--project', '--user', 'bob', '5'], code: USAGE, says: /one of/ },
  'budget set: no scope': { args: ['budget', 'set', '5'], code: USAGE, says: /one of/ },
  'budget set: no amount': { args: ['budget', 'set', '--project'], code: USAGE, says: /usd/ },
  'run start: bad --cap': { args: ['run', 'start', '--cap', 'lots'], code: USAGE, says: /cap/ },
  'run end: unknown id': { args: ['run', 'end', 'run_doesnotexist'], code: NOT_FOUND, says: /run_doesnotexist/ },
  'run end: unknown id, --json': { args: ['run', 'end', 'run_doesnotexist', '--json'], code: NOT_FOUND, says: /run_doesnotexist/ },
  'run show: unknown id': { args: ['run', 'show', 'run_doesnotexist'], code: NOT_FOUND, says: /run_doesnotexist/ },
  'run show: no id': { args: ['run', 'show'], code: USAGE, says: /id/ },
  'run end: a run that has ended': { args: ['run', 'end', '$ENDED'], code: CONFLICT, says: /ended/ },
  'run end: a run that has ended, --json': { args: ['run', 'end', '$ENDED', '--json'], code: CONFLICT, says: /ended/ },
  'run list: bad --status': { args: ['run', 'list', '--status', 'closed'], code: USAGE, says: /status/ },
  'run without a command': { args: ['run', '--cap', '1'], code: USAGE, says: /usage/ },
  'spend: bad --by': { args: ['spend', '--by', 'colour'], code: USAGE, says: /by/ },
  'spend: --since not a date': { args: ['spend', '--since', 'yesterday-ish'], code: USAGE, says: /since/ },
  'spend: --until not a date': { args: ['spend', '--until', '2026-13-45'], code: USAGE, says: /until/ },
  'spend: --since a day that does not exist': { args: ['spend', '--since', '2026-02-30'], code: USAGE, says: /since/ },
  'spend: --since a bare number': { args: ['spend', '--since', '1'], code: USAGE, says: /since/ },
  'spend: --until a month name': { args: ['spend', '--until', 'March 5'], code: USAGE, says: /until/ },
  'corrupt config.json (check)': { args: [...CHECK, '--tokens-in', '1', '--tokens-out', '3'], config: '{"prices": {', code: USAGE, says: /config\.json/ },
  'corrupt config.json (budget show)': { args: ['budget', 'show', '--json'], config: '{not json', code: USAGE, says: /config\.json/ },
  'config.json not an object': { args: ['spend'], config: '[1, 2]', code: USAGE, says: /config\.json/ },
  'config: holdTtlSeconds a string': { args: [...CHECK, '--tokens-in', '1', '--tokens-out', '3'], config: '{"holdTtlSeconds": "ten"}', code: USAGE, says: /holdTtlSeconds/ },
  'config: price not a number': { args: ['prices', 'm1'], config: '{"prices": {"m1": {"inputPerMTok": "1", "outputPerMTok": true}}}', code: USAGE, says: /m1/ },
  'config: onError a number': { args: ['run', 'start', '--cap', '1'], config: '{"onError": 1}', code: USAGE, says: /onError/ },
  'config: unknownModel unknown': { args: ['budget', 'show'], config: '{"unknownModel": "sometimes"}', code: USAGE, says: /unknownModel/ },
  'env: NOBURN_HOLD_TTL_SECONDS not a number': { args: ['budget', 'show'], env: { NOBURN_HOLD_TTL_SECONDS: 'soon' }, code: USAGE, says: /NOBURN_HOLD_TTL_SECONDS/ },
  'env: NOBURN_HOME empty': { args: ['budget', 'show'], env: { NOBURN_HOME: '' }, code: USAGE, says: /NOBURN_HOME/ },
  'env: NOBURN_TIMEOUT_MS negative': { args: ['spend'], env: { NOBURN_TIMEOUT_MS: '-1' }, code: USAGE, says: /NOBURN_TIMEOUT_MS/ },
  'env: NOBURN_ON_ERROR unknown': { args: [...CHECK, '--tokens-in', '1', '--tokens-out', '3'], env: { NOBURN_ON_ERROR: 'maybe' }, code: USAGE, says: /NOBURN_ON_ERROR/ },
};

function expand(args: string[]): string[] {
  return args.map((a) => vars[a] ?? a);
}

function expectOneCleanLine(stderr: string): void {
  expect(lines(stderr), stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/Error:|internal error/);
}

describe('malformed CLI invocations', () => {
  it('the table has at least 20 cases', () => {
    expect(Object.keys(cases).length).toBeGreaterThanOrEqual(20);
  });

  it.each(Object.entries(cases))('%s', async (_name, c) => {
    const before = ledgerSnapshot(db);
    if (c.config !== undefined) writeConfig(home, c.config);
    try {
      const r = await runCli(dist.cli, expand(c.args), { home, env: c.env });
      expect({ code: r.code, stdout: r.stdout }, r.stderr).toEqual({ code: c.code, stdout: '' });
      expectOneCleanLine(r.stderr);
      expect(r.stderr).toMatch(c.says);
    } finally {
      rmSync(join(home, 'config.json'), { force: true });
    }
    expect(ledgerSnapshot(db)).toEqual(before);
  });

  // Control, last: the comparison above does see a change when a command makes one.
  it('control: a valid command does change the snapshot', async () => {
    const before = ledgerSnapshot(db);
    const r = await runCli(dist.cli, ['budget', 'set', '--user', 'carol', '0.25'], { home });
    expect(r.code, r.stderr).toBe(0);
    expect(ledgerSnapshot(db)).not.toEqual(before);
  });
});

describe('NOBURN_HOME that cannot be created (its parent is a regular file)', () => {
  let bad: string;
  beforeAll(() => {
    const parent = tempHome('noburn-badhome-');
    writeFileSync(join(parent, 'file'), 'not a folder');
    bad = join(parent, 'file', 'home');
  });

  it.each([
    ['budget', 'show'],
    ['run', 'start', '--cap', '1'],
    ['run', 'list', '--json'],
    ['record', '--model', 'gpt-4o', '--tokens-in', '1', '--tokens-out', '1'],
    ['spend', '--by', 'model'],
    ['budget', 'set', '--project', '1'],
  ])('%s %s: exit 4 (the ledger cannot be opened), one line', async (...args) => {
    const r = await runCli(dist.cli, args, { home: bad });
    expect({ code: r.code, stdout: r.stdout }, r.stderr).toEqual({ code: ExitCodes.UNREACHABLE, stdout: '' });
    expectOneCleanLine(r.stderr);
    expect(r.stderr).toContain('ledger');
    expect(existsSync(bad)).toBe(false);
  });

  // contract §3: check falls back to a local decision when the authority cannot be reached.
  it('check falls back: a warning on stderr, onError allow (default) -> exit 0', async () => {
    const r = await runCli(dist.cli, [...CHECK, '--tokens-in', '1', '--tokens-out', '1'], { home: bad });
    expect(r.code, r.stderr).toBe(ExitCodes.OK);
    expect(r.stdout).toBe(''); // no reservation: nothing was held
    expect(r.stderr).toMatch(/^warning: .*fallback/m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('check falls back: --json says source "fallback"', async () => {
    const r = await runCli(dist.cli, [...CHECK, '--tokens-in', '1', '--tokens-out', '1', '--json'], { home: bad });
    expect(r.code, r.stderr).toBe(ExitCodes.OK);
    const d = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(d).toMatchObject({ blocked: false, blockReason: null, source: 'fallback', reservationId: null });
    expect(r.stderr).toMatch(/^warning: /m);
  });

  it('check falls back: NOBURN_ON_ERROR=block -> exit 1 with noburn_unreachable', async () => {
    const r = await runCli(dist.cli, [...CHECK, '--tokens-in', '1', '--tokens-out', '1'], { home: bad, env: { NOBURN_ON_ERROR: 'block' } });
    expect(r.code, r.stderr).toBe(ExitCodes.BLOCKED);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^warning: /m);
    expect(r.stderr).toContain('noburn_unreachable');
  });

  it('check falls back: budgetCapUsd 0 in the environment blocks with local_budget_exceeded', async () => {
    const r = await runCli(dist.cli, [...CHECK, '--tokens-in', '1', '--tokens-out', '1'], { home: bad, env: { NOBURN_BUDGET_CAP_USD: '0' } });
    expect(r.code, r.stderr).toBe(ExitCodes.BLOCKED);
    expect(r.stderr).toContain('local_budget_exceeded');
  });
});
