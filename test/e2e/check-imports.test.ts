/**
 * `noburn check` stays close to bare node start-up: nothing heavy is imported on its path. The built CLI runs
 * with a preload that records every module the process resolves (ESM and CommonJS), and
 * the test reads which packages were loaded.
 */
import { readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli, tempHome, useDist, writeConfig } from '../helpers/cli.js';

const RECORDER = join(dirname(fileURLToPath(import.meta.url)), '../helpers/record-loads.mjs');
const HEAVY = ['ink', 'react', '@pydantic/genai-prices', 'gpt-tokenizer', 'undici', 'pg', 'prom-client', 'zod', 'openai', '@anthropic-ai/sdk'];

const dist = useDist();

/** Runs the CLI under the recorder, in `home`, and returns the set of npm packages it loaded. */
async function packagesLoaded(home: string, args: string[], input?: string, env: Record<string, string> = {}, files?: string[]): Promise<Set<string>> {
  const file = join(home, `loads-${Math.random().toString(36).slice(2)}.txt`);
  const r = await runCli(dist.cli, args, { home, nodeArgs: ['--import', RECORDER], env: { ...env, NOBURN_TEST_LOADS: file }, input });
  expect(r.code, r.stderr).toBe(0);
  const text = readFileSync(file, 'utf8');
  rmSync(file);
  const pkgs = new Set<string>();
  // Our own copy of dist/ lives under node_modules/.cache: it is noburn itself, not a dependency.
  // (by its real path too: node_modules may be a symlink, and modules are recorded resolved)
  const own = [dist.dir, realpathSync(dist.dir)];
  const deps = text.split('\n').filter((l) => !own.some((d) => l.includes(d))).join('\n');
  files?.push(...deps.split('\n').filter((l) => l.includes('node_modules/')));
  for (const m of deps.matchAll(/node_modules\/((?:@[^/]+\/)?[^/\s]+)\//g)) pkgs.add(m[1] as string);
  return pkgs;
}

const CHECK = ['check', '--model', 'gpt-4o', '--tokens-in', '1000', '--tokens-out', '300'];

/** A fresh home whose ledger has the price of gpt-4o cached (one check run beforehand, not recorded). */
async function warmHome(): Promise<string> {
  const home = tempHome('noburn-imports-');
  const r = await runCli(dist.cli, CHECK, { home });
  expect(r.code, r.stderr).toBe(0);
  return home;
}

describe('the check path loads nothing heavy', () => {
  it('first check of a model looks its price up once (the recorder sees the price package)', async () => {
    const pkgs = await packagesLoaded(tempHome('noburn-imports-'), CHECK);
    expect(pkgs.has('better-sqlite3')).toBe(true);
    expect(pkgs.has('@pydantic/genai-prices')).toBe(true);
  });

  it('once the price is cached in the ledger, check loads only better-sqlite3', async () => {
    const pkgs = await packagesLoaded(await warmHome(), CHECK);
    expect(pkgs.has('better-sqlite3')).toBe(true); // the recorder works
    for (const p of HEAVY) expect(pkgs.has(p), `${p} was loaded by check`).toBe(false);
    expect([...pkgs]).toEqual(['better-sqlite3']);
  });

  it("better-sqlite3's JavaScript is inside dist/cli.js: check loads only its native addon from node_modules", async () => {
    const files: string[] = [];
    await packagesLoaded(await warmHome(), CHECK, undefined, {}, files);
    expect(files.length).toBeGreaterThan(0); // the recorder saw the addon
    for (const f of files) expect(f).toMatch(/better-sqlite3\/build\/Release\/better_sqlite3\.node/);
  });

  it('check --json, with a user and a config price, stays as light', async () => {
    const home = tempHome('noburn-imports-');
    writeConfig(home, { prices: { m1: { inputPerMTok: 1, outputPerMTok: 2 } } });
    const pkgs = await packagesLoaded(home, ['check', '--model', 'm1', '--tokens-in', '5', '--tokens-out', '5', '--user', 'u1', '--json']);
    expect([...pkgs]).toEqual(['better-sqlite3']);
  });

  it('--prompt-file loads the tokenizer (and only then)', async () => {
    const pkgs = await packagesLoaded(await warmHome(), ['check', '--model', 'gpt-4o', '--prompt-file', '-', '--tokens-out', '10'], 'hello there');
    expect(pkgs.has('gpt-tokenizer')).toBe(true);
    for (const p of HEAVY.filter((x) => x !== 'gpt-tokenizer')) expect(pkgs.has(p), `${p} was loaded by check --prompt-file`).toBe(false);
  });

  // Built-ins cost start-up too (child_process ~6 ms, worker_threads ~4 ms, fs/promises and
  // crypto ~3 ms each on this machine): the check path loads them only when it uses them.
  it('check loads none of the slow built-ins (child_process, worker_threads, fs/promises, crypto)', async () => {
    const home = await warmHome();
    const preload = join(home, 'builtins.cjs');
    const out = join(home, 'builtins.txt');
    writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, process.moduleLoadList.join('\\n')));`);
    const r = await runCli(dist.cli, CHECK, { home, nodeArgs: ['-r', preload] });
    expect(r.code, r.stderr).toBe(0);
    const loaded = readFileSync(out, 'utf8').split('\n');
    expect(loaded).toContain('NativeModule vm'); // the preload saw the bin's own built-ins
    for (const m of ['child_process', 'worker_threads', 'fs/promises', 'crypto']) expect(loaded, m).not.toContain(`NativeModule ${m}`);
  });
});
