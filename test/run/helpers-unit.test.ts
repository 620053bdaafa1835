import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../src/cli/run-exec/child.js';
import { resolveCommand } from '../../src/cli/run-exec/resolve-command.js';
import { formatSummary, shellQuote, type RunSummary } from '../../src/cli/run-exec/summary.js';

const dir = mkdtempSync(join(tmpdir(), 'noburn-resolve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveCommand (like a shell, before any run starts)', () => {
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  mkdirSync(a);
  mkdirSync(b);
  writeFileSync(join(a, 'tool'), '#!/bin/sh\n', { mode: 0o644 });
  writeFileSync(join(b, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(a, 'only-noexec'), '#!/bin/sh\n', { mode: 0o644 });

  it('finds the first executable in PATH, skipping a non-executable file of the same name', () => {
    expect(resolveCommand('tool', { PATH: `${a}:${b}` }, dir)).toEqual({ ok: true, path: join(b, 'tool') });
  });
  it('not found: 127 material; found but not executable: 126 material', () => {
    expect(resolveCommand('nope', { PATH: `${a}:${b}` }, dir)).toMatchObject({ ok: false, reason: 'not_found' });
    expect(resolveCommand('only-noexec', { PATH: a }, dir)).toMatchObject({ ok: false, reason: 'not_executable' });
  });
  it('a name with a slash is a path (relative to the cwd), a directory is not executable', () => {
    expect(resolveCommand('./b/tool', { PATH: '' }, dir)).toEqual({ ok: true, path: join(b, 'tool') });
    expect(resolveCommand('./a', { PATH: '' }, dir)).toMatchObject({ ok: false, reason: 'not_executable', detail: 'is a directory' });
    expect(resolveCommand('./missing', { PATH: '' }, dir)).toMatchObject({ ok: false, reason: 'not_found' });
  });
});

describe('exit codes', () => {
  it("the child's code, else 128 + the signal number", () => {
    expect(exitCodeOf(3, null)).toBe(3);
    expect(exitCodeOf(null, 'SIGINT')).toBe(130);
    expect(exitCodeOf(null, 'SIGKILL')).toBe(137);
  });
});

describe('summary', () => {
  const s: RunSummary = {
    runId: 'run_x',
    label: 'nightly',
    status: 'exhausted',
    command: ['python', 'agent.py', 'two words'],
    exitCode: 124,
    signal: 'SIGTERM',
    stoppedOnExhaust: true,
    spendUsd: 0.25,
    budgetCapUsd: 0.5,
    calls: 12,
    blockedCalls: 1,
    unpricedCalls: 2,
    durationMs: 3210,
    startedAt: '2026-01-01T00:00:00.000Z',
    endedAt: '2026-01-01T00:00:03.210Z',
    proxyUrl: 'http://127.0.0.1:1',
    topModels: [{ model: 'gpt-4o-mini', calls: 12, blockedCalls: 1, tokensIn: 1000, tokensOut: 200, cachedTokensIn: 0, spendUsd: 0.25 }],
    proxyBounds: { cutStreams: 0, overHolds: 0 },
    proxyCalls: { errors: 0, unmeteredForwarded: 0, unmeteredRefused: 0 },
  };
  it('shows spend vs cap, calls, blocked, duration, outcome and top models', () => {
    const text = formatSummary(s);
    expect(text).toContain('noburn run run_x "nightly": exhausted');
    expect(text).toContain("python agent.py 'two words'  ->  stopped: run cap reached (exit 124)");
    expect(text).toContain('$0.250000 of $0.500000 cap (50.0%)');
    expect(text).toContain('12, 1 blocked, 2 unpriced (not in the spend');
    expect(text).toContain('3.21 s');
    expect(text).toMatch(/gpt-4o-mini\s+12\s+1\s+1000\s+200\s+\$0\.250000/);
    expect(text.split('\n').length).toBeLessThan(20);
  });
  it('says nothing more when no call was unpriced', () => {
    expect(formatSummary({ ...s, unpricedCalls: 0 })).toContain('12, 1 blocked, 0 unpriced\n');
  });
  it('a bounds line only when the proxy cut a stream or saw an answer over its hold', () => {
    expect(formatSummary(s)).not.toContain('bounds');
    expect(formatSummary({ ...s, proxyBounds: { cutStreams: 2, overHolds: 1 } })).toContain('bounds    2 streams cut at the hold, 1 answer over the hold');
  });
  it('a holds line when the ledger clamped calls of the run or a record cost more than its hold', () => {
    expect(formatSummary(s)).not.toContain('holds ');
    expect(formatSummary({ ...s, clampedCalls: 3, overHolds: 0 })).toContain('\n  holds     3 calls clamped to fit the cap, 0 records cost more than held');
    expect(formatSummary({ ...s, clampedCalls: 1, overHolds: 1 })).toContain('holds     1 call clamped to fit the cap, 1 record cost more than held');
  });
  it('quotes arguments a shell would need quoted', () => {
    expect(shellQuote(['echo', "it's", 'a b', 'plain-arg'])).toBe(`echo 'it'\\''s' 'a b' plain-arg`);
  });
});
