/**
 * The README's quick-start example, run against the built CLI on every `npm test` (the
 * torture suite runs it again from a fresh clone with `npx`). `noburn` and `npx noburn`
 * are shell functions that run this tree's dist/cli.cjs (the bin).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transformSync } from 'esbuild';
import { NoburnGuard } from '../../src/lib/guard.js';
import { startFakeUpstream } from '../fixtures/fake-upstream.js';
import { describe, expect, it } from 'vitest';
import { cleanEnv, REPO_ROOT, tempHome, useDist } from '../helpers/cli.js';
import { quickStartBlocks, quickStartExample, tsBlocks } from '../helpers/readme.js';

const dist = useDist();

const SHIMS = [
  'noburn() { node "$NOBURN_CLI" "$@"; }',
  'npx() { if [ "$1" = noburn ]; then shift; node "$NOBURN_CLI" "$@"; else echo "the example runs npx $*" >&2; return 127; fi; }',
  'curl() { echo "curl (stub) $*"; }',
].join('\n');

describe('README quick start', () => {
  it('the example runs, and every command in it succeeds', () => {
    const readme = join(REPO_ROOT, 'README.md');
    expect(existsSync(readme), 'README.md is missing').toBe(true);
    const script = quickStartExample(readFileSync(readme, 'utf8'));
    expect(script, 'no ```sh block that runs noburn under "Quick start"').toMatch(/noburn check\b/);
    const home = tempHome('noburn-readme-');
    const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', `${SHIMS}\n${script}`], {
      encoding: 'utf8',
      timeout: 60_000,
      env: cleanEnv({ NOBURN_HOME: join(home, 'ledger'), HOME: home, NOBURN_CLI: dist.cli }),
    });
    expect(r.status, `${script}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`).toBe(0);
    expect(r.stderr).not.toMatch(/^\s+at |internal error|the example runs npx/m);
    expect(r.stdout).not.toBe('');
  });
});

describe('README code sample', () => {
  it('runs as written against the built library (the official openai client through guard.fetch, against a fake upstream)', async () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const sample = tsBlocks(readme)[0] ?? '';
    expect(sample).toContain('guard.fetch(');
    expect(sample).toContain('guard.close()');
    // Run as the app would write it: `noburn` is this build's library, openai the installed SDK.
    const js = transformSync(sample, { loader: 'ts', format: 'esm' }).code.replace(/from ['"]noburn['"]/, `from ${JSON.stringify(pathToFileURL(dist.index).href)}`);
    const file = join(dist.dir, 'readme-sample.mjs');
    writeFileSync(file, js);
    const home = tempHome('noburn-readme-ts-');
    const upstream = await startFakeUpstream();
    try {
      const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [file], {
          env: cleanEnv({ NOBURN_HOME: home, HOME: home, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: upstream.openaiBase }),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('Hello from the fake upstream.');
      // The call was capped per user and recorded before exit (close() delivered it).
      const guard = new NoburnGuard({ home, env: {} });
      const spend = await guard.spend({ by: 'user' });
      const budgets = await guard.getBudgets();
      await guard.close();
      expect(spend.rows.map((row) => [row.key, row.calls])).toEqual([['user_123', 1]]);
      expect(budgets.map((b) => [b.scope, b.capUsd])).toEqual([['default_user', 0.5]]);
    } finally {
      await upstream.close();
    }
  });
});

describe('quickStartExample', () => {
  const sample = [
    '# tool',
    '## Install',
    '```sh\nnpm install\n```',
    '## Quick start',
    'Some words.',
    '```sh\ngit clone x\ncd x\nnpm install\n$ npx noburn check --model m\nnpm test\n```',
    '```sh\nnoburn watch\n```',
    '### Sub-section',
    '```bash\necho in a sub-section\n```',
    '## Next',
    '```sh\necho not quick start\n```',
  ].join('\n');

  it('takes the blocks under the heading, up to the next heading of its level', () => {
    expect(quickStartBlocks(sample)).toHaveLength(3); // its sub-section's block included
    expect(quickStartBlocks(sample).join('')).not.toContain('not quick start');
  });

  it('keeps the first block that runs noburn, without clone/install/test lines and prompts', () => {
    expect(quickStartExample(sample)).toBe('npx noburn check --model m');
    expect(quickStartExample('# no quick start here\n```sh\nnoburn check\n```')).toBe('');
  });
});
