/**
 * docs/cli.md "Exports": `noburn events --format jsonl|csv` streams the project's whole
 * feed (more than one page here) in seq order, each event once; CSV is RFC 4180 with a
 * header row, exact USD and ISO-8601 UTC times, and parses back to the ledger's rows;
 * `spend --format csv|json`; bad input exits 2 with nothing on stdout. The built CLI, a real ledger file.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, lines, runCli, tempHome, useDist } from '../helpers/cli.js';
import { DAY0, expectedCsvRow, ledgerEvents, nanoText, parseCsv, writeExportLedger } from '../helpers/export-ledger.js';
import type { LedgerEvent, SpendReport } from '../../src/lib/types.js';

const dist = useDist();
const N = 2600; // records: the feed is longer than two 1000-event pages
let home: string;
let dbPath: string;
const cli = (args: string[]) => runCli(dist.cli, args, { home });

beforeAll(async () => {
  home = tempHome('noburn-exports-');
  dbPath = join(home, 'noburn.db');
  await writeExportLedger(dbPath, N);
});

const HEADER = ['seq', 'ts', 'kind', 'projectId', 'userId', 'runId', 'model', 'amountUsd', 'blocked', 'reason', 'unpriced', 'tokensIn', 'tokensOut', 'ref', 'tags'];

describe('noburn events', () => {
  it('--format csv: a header row, then every event of the project once, in seq order, equal to the ledger rows', async () => {
    const r = await cli(['events', '--format', 'csv']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const rows = parseCsv(r.stdout);
    expect(rows[0]).toEqual(HEADER);
    const want = ledgerEvents(dbPath);
    expect(want.length).toBeGreaterThan(2000);
    expect(rows.slice(1)).toEqual(want.map(expectedCsvRow));
    // The ids that need quoting came through (and another project's record did not).
    expect(r.stdout).toContain('"b,ob"');
    expect(r.stdout).toContain('"c""arol"');
    expect(r.stdout).toContain(',"feature=search,team=core"\r\n');
    expect(rows.slice(1).every((x) => x[3] === 'default')).toBe(true);
  });

  it('jsonl (the default, and --json): one JSON event a line, the fields of every other --json output', async () => {
    const r = await cli(['events']);
    expect(r.code, r.stderr).toBe(0);
    const events = lines(r.stdout).map((l) => JSON.parse(l) as LedgerEvent);
    const want = ledgerEvents(dbPath);
    expect(events.map((e) => e.seq)).toEqual(want.map((w) => w.seq));
    const sample = want.find((w) => w.kind === 'record' && w.user_id === 'b,ob');
    expect(events.find((e) => e.seq === sample?.seq)).toEqual({
      seq: sample?.seq, ts: new Date(sample?.ts ?? 0).toISOString(), kind: 'record', projectId: 'default', userId: 'b,ob', runId: sample?.run_id, model: sample?.model,
      amountUsd: (sample?.amount_nano ?? 0) / 1e9, blocked: false, reason: null, unpriced: sample?.unpriced === 1, tokensIn: sample?.tokens_in, tokensOut: sample?.tokens_out, ref: sample?.ref,
      ...(sample?.tags ? { tags: Object.fromEntries(sample.tags.split(',').map((t) => t.split('='))) } : {}),
    });
    const same = await cli(['events', '--json']);
    expect(same.stdout).toBe(r.stdout);
    expect((await cli(['events', '--format', 'jsonl'])).stdout).toBe(r.stdout);
  });

  it('--since (inclusive), --until (exclusive) and --kind keep exactly the matching ledger rows', async () => {
    const since = '2026-11-25';
    const until = '2026-11-26T12:00:00Z';
    const r = await cli(['events', '--format', 'csv', '--since', since, '--until', until, '--kind', 'record']);
    expect(r.code, r.stderr).toBe(0);
    const want = ledgerEvents(dbPath, "kind = 'record' AND ts >= ? AND ts < ?", Date.parse(since), Date.parse(until));
    expect(want.length).toBeGreaterThan(1000);
    expect(parseCsv(r.stdout).slice(1)).toEqual(want.map(expectedCsvRow));
    const checks = await cli(['events', '--kind', 'check']);
    expect(lines(checks.stdout).map((l) => (JSON.parse(l) as LedgerEvent).reason)).toEqual(['unknown_model_price']);
    // Nothing matches: CSV is the header alone, JSONL is empty; both succeed.
    const none = await cli(['events', '--format', 'csv', '--until', new Date(DAY0 - 86_400_000).toISOString().slice(0, 10)]);
    expect(none).toMatchObject({ code: 0, stdout: HEADER.join(',') + '\r\n' });
    expect(await cli(['events', '--kind', 'run_end'])).toMatchObject({ code: 0, stdout: '' });
  });

  it('bad input: one line on stderr, exit 2 (usage), nothing on stdout', async () => {
    for (const args of [
      ['events', '--since', 'last week'],
      ['events', '--until', '2026-13-01'],
      ['events', '--kind', 'refund'],
      ['events', '--format', 'xml'],
      ['events', '--json', '--format', 'csv'],
      ['spend', '--format', 'tsv'],
      ['spend', '--format', 'csv', '--since', 'soon'],
      ['spend', '--json', '--format', 'csv'],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).toBe('');
      expect(lines(r.stderr), args.join(' ')).toHaveLength(1);
    }
  });

  it('a reader that goes away (| head) ends the export quietly, exit 0', async () => {
    const child = spawn(process.execPath, [dist.cli, 'events'], { env: cleanEnv({ NOBURN_HOME: home, HOME: home }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // The feed (~700 KB) is far more than a pipe holds: closing our end after the first chunk makes its writes fail.
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('noburn spend --format', () => {
  it('csv --by user: one row per group, named by the group, exact USD, equal to the --json report and the ledger sums', async () => {
    const r = await cli(['spend', '--by', 'user', '--format', 'csv']);
    expect(r.code, r.stderr).toBe(0);
    const rows = parseCsv(r.stdout);
    expect(rows[0]).toEqual(['user', 'spendUsd', 'calls', 'blockedCalls', 'unpricedCalls', 'tokensIn', 'tokensOut']);
    const report = JSON.parse((await cli(['spend', '--by', 'user', '--json'])).stdout) as SpendReport;
    expect(rows.slice(1)).toEqual(report.rows.map((x) => [x.key ?? '', nanoText(Math.round(x.spendUsd * 1e9)), String(x.calls), String(x.blockedCalls), String(x.unpricedCalls), String(x.tokensIn), String(x.tokensOut)]));
    // Exact: the CSV's decimals, read as nano-dollar integers, sum to the ledger's integer sum.
    const csvNano = rows.slice(1).reduce((s, x) => s + Number((x[1] ?? '').replace('.', '')), 0);
    const ledgerNano = ledgerEvents(dbPath, "kind = 'record'").reduce((s, e) => s + e.amount_nano, 0);
    expect(csvNano).toBe(ledgerNano);
    expect(rows.some((x) => x[0] === '')).toBe(true); // the records without a user: the empty field, as null in JSON
  });

  it('csv without --by: the totals row; --format json prints exactly what --json prints', async () => {
    const r = await cli(['spend', '--format', 'csv', '--since', '2026-11-25']);
    const report = JSON.parse((await cli(['spend', '--json', '--since', '2026-11-25'])).stdout) as SpendReport;
    expect(parseCsv(r.stdout)).toEqual([
      ['totalUsd', 'calls', 'blockedCalls', 'unpricedCalls'],
      [nanoText(Math.round(report.totalUsd * 1e9)), String(report.calls), String(report.blockedCalls), String(report.unpricedCalls)],
    ]);
    const json = await cli(['spend', '--by', 'day', '--format', 'json']);
    expect(json.code).toBe(0);
    expect(json.stdout).toBe((await cli(['spend', '--by', 'day', '--json'])).stdout);
  });
});
