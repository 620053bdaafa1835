/**
 * Issue 2, "what it must show" 6: tried as a new user would. The committed HEAD is cloned
 * into a temporary folder, `npm install` runs there with no terminal to answer questions,
 * then the README's quick-start example and `npx noburn --help` run. (`npm test` is not run
 * here: it would run this test again; CI runs `npm install && npm test` on a clean clone.)
 * Takes a few minutes: better-sqlite3 may compile from source.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv } from '../helpers/cli.js';
import { quickStartExample } from '../helpers/readme.js';

const REPO = spawnSync('git', ['rev-parse', '--show-toplevel'], { cwd: dirname(fileURLToPath(import.meta.url)), encoding: 'utf8' }).stdout.trim();

let tmp: string;
let clone: string;
let installed = false;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with stdin closed (a question would fail, not hang) and a hard timeout. */
function run(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string | undefined>; timeoutMs: number }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: cleanEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // The whole process group: npm's children (node-gyp, esbuild's postinstall) go too.
    const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), opts.timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const tail = (r: Result) => `${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;

/** Environment for the user's shell: an isolated NOBURN_HOME, no network (curl is a stub), npx never downloads. */
function userEnv(): Record<string, string | undefined> {
  const bin = join(tmp, 'bin');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'curl'), '#!/bin/sh\necho "curl (stub) $*"\n');
  chmodSync(join(bin, 'curl'), 0o755);
  return { NOBURN_HOME: join(tmp, 'noburn-home'), PATH: `${bin}:${process.env['PATH'] ?? ''}`, npm_config_yes: 'false', FORCE_COLOR: undefined };
}

/**
 * NOBURN_TORTURE_WORKTREE=1: also copy the working tree's uncommitted files (modified and
 * untracked, not ignored) over the clone, to try a change before it is committed.
 */
function overlayWorkingTree(): void {
  const r = spawnSync('git', ['ls-files', '-z', '--modified', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  for (const f of r.stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(REPO, f))) continue; // deleted in the working tree
    mkdirSync(dirname(join(clone, f)), { recursive: true });
    copyFileSync(join(REPO, f), join(clone, f));
  }
}

beforeAll(() => {
  expect(REPO, 'not inside a git repository').not.toBe('');
  tmp = mkdtempSync(join(tmpdir(), 'noburn-fresh-clone-'));
  clone = join(tmp, 'noburn');
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('a fresh clone, as a new user would try it', () => {
  it('git clone of the committed HEAD', () => {
    const r = spawnSync('git', ['clone', '--quiet', REPO, clone], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(clone, 'package.json'))).toBe(true);
    expect(existsSync(join(clone, 'node_modules'))).toBe(false);
    if (process.env['NOBURN_TORTURE_WORKTREE'] === '1') overlayWorkingTree();
  }, 150_000);

  it('npm install: no question asked, and it builds the CLI', async () => {
    const r = await run('npm', ['install'], { cwd: clone, env: { CI: undefined }, timeoutMs: 900_000 });
    expect(r.code, tail(r)).toBe(0);
    expect(existsSync(join(clone, 'dist', 'cli.cjs')), 'npm install (prepare) did not build dist/cli.cjs').toBe(true);
    expect(existsSync(join(clone, 'dist', 'index.js'))).toBe(true);
    installed = true;
  }, 960_000);

  it("the README's quick-start example runs and every command succeeds", async () => {
    expect(installed, 'npm install failed').toBe(true);
    const readmePath = join(clone, 'README.md');
    expect(existsSync(readmePath), 'README.md is not committed').toBe(true);
    const readme = readFileSync(readmePath, 'utf8');
    const script = quickStartExample(readme);
    expect(script, 'no ```sh block with `noburn` under a "Quick start" heading in README.md').toMatch(/\bnoburn\b/);
    expect(script).toMatch(/noburn check\b/);
    // npm answers `npx noburn --help` with its own help; a README line like that would mislead.
    expect(readme).not.toMatch(/npx noburn --help/);
    const r = await run('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: clone, env: userEnv(), timeoutMs: 120_000 });
    expect(r.code, `${script}\n--- output ---\n${tail(r)}`).toBe(0);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  }, 150_000);

  it('npx noburn --help exits 0; npx noburn help shows every command', async () => {
    expect(installed, 'npm install failed').toBe(true);
    const flag = await run('npx', ['noburn', '--help'], { cwd: clone, env: userEnv(), timeoutMs: 60_000 });
    expect(flag.code, tail(flag)).toBe(0);
    const help = await run('npx', ['noburn', 'help'], { cwd: clone, env: userEnv(), timeoutMs: 60_000 });
    expect(help.code, tail(help)).toBe(0);
    expect(help.stdout).toContain('Usage: noburn');
    for (const c of ['check', 'record', 'run', 'budget', 'spend', 'prices']) expect(help.stdout).toMatch(new RegExp(`^\\s+${c}\\b`, 'm'));
    const check = await run('npx', ['noburn', 'check', '--model', 'gpt-4o', '--tokens-in', '1000', '--tokens-out', '300'], { cwd: clone, env: userEnv(), timeoutMs: 60_000 });
    expect(check.code, tail(check)).toBe(0);
    expect(check.stdout).toMatch(/^res_[\w-]+\n$/);
  }, 200_000);
});
