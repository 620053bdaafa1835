/**
 * `noburn check ...` is parsed by a program holding only the check command (runCli builds
 * the rest only for other commands). Its help, usage errors and their exit codes must be the
 * full program's: each argv below is parsed by both, and everything either prints compares.
 */
import { CommanderError } from '@commander-js/extra-typings';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildProgram } from '../../src/cli/registry.js';
import type { Output } from '../../src/cli/output.js';

/** Parses argv (never valid enough to run the command) and returns what was printed, and the commander code. */
async function parse(argv: string[], onlyCheck: boolean): Promise<{ printed: string[]; code: string }> {
  const printed: string[] = [];
  const out: Output = { out: (t) => printed.push(`out ${t}`), err: (t) => printed.push(`err ${t}`), json: (v) => printed.push(`json ${JSON.stringify(v)}`), write: () => Promise.resolve(), color: false };
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => printed.push(`stdout ${String(s)}`) > 0);
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => printed.push(`stderr ${String(s)}`) > 0);
  let code = 'none';
  try {
    await buildProgram(out, () => {}, onlyCheck).parseAsync(argv, { from: 'user' });
  } catch (e) {
    code = e instanceof CommanderError ? e.code : String(e);
  } finally {
    vi.restoreAllMocks();
  }
  return { printed, code };
}

// Should an argv reach the action after all, it meets an empty home, not the user's ledger.
let home = '';
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'noburn-fast-path-'));
  vi.stubEnv('NOBURN_HOME', home);
});
afterAll(() => {
  vi.unstubAllEnvs();
  rmSync(home, { recursive: true, force: true });
});
afterEach(() => vi.restoreAllMocks());

const ARGVS = [
  ['check', '--help'],
  ['check', '-h'],
  ['check'],
  ['check', '--model'],
  ['check', '--model', 'm1'],
  ['check', '--modle', 'm1', '--tokens-in', '5', '--tokens-out', '5'],
  ['check', '--model', 'm1', '--tokns-in', '5', '--tokens-out', '5'],
  ['check', '--model', 'm1', '--tokens-in', 'x', '--tokens-out', '5'],
  ['check', '--model', 'm1', '--tokens-in', '5', '--tokens-out', '5', 'extra'],
  ['check', '--version'],
  ['check', 'help'],
];

describe('the check fast path parses as the full program', () => {
  it.each(ARGVS.map((a) => [a.join(' '), a] as const))('noburn %s', async (_, argv) => {
    const full = await parse([...argv], false);
    expect(full.code).not.toBe('none'); // the argv never reaches the action
    expect(full.printed.length).toBeGreaterThan(0);
    expect(await parse([...argv], true)).toEqual(full);
  });
});
