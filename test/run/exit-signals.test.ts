import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import { makeHome } from '../proxy/helpers.js';
import { REPO_ROOT, runCli, startCli, useDist } from '../helpers/cli.js';

const FIXTURES = join(REPO_ROOT, 'test/run/fixtures');
const dist = useDist();
let home: ReturnType<typeof makeHome>;

beforeEach(() => {
  home = makeHome();
});
afterEach(() => home.cleanup());

async function runs() {
  const guard = new NoburnGuard({ home: home.home, env: {} });
  try {
    return await guard.listRuns();
  } finally {
    await guard.close();
  }
}

const node = process.execPath;

describe('noburn run -- CMD: exit codes', () => {
  it("passes the child's exit code through and ends the run", async () => {
    const r = await runCli(dist.cli, ['run', '--cap', '1', '--label', 'seven', '--', node, '-e', 'process.exit(7)'], { home: home.home });
    expect(r.code).toBe(7);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/noburn run run_\S+ "seven": completed/);
    expect(r.stderr).toMatch(/spend\s+\$0\.000000 of \$1\.000000 cap/);
    expect(r.stderr).toMatch(/exit 7/);
    const [run] = await runs();
    expect(run).toMatchObject({ status: 'ended', label: 'seven', budgetCapUsd: 1 });
  });

  it('gives the child NOBURN_RUN_ID, NOBURN_HOME and the proxy base URLs; --no-proxy leaves the base URLs alone', async () => {
    const print = 'console.log(JSON.stringify({run: process.env.NOBURN_RUN_ID, home: process.env.NOBURN_HOME, o: process.env.OPENAI_BASE_URL, a: process.env.ANTHROPIC_BASE_URL}))';
    const withProxy = await runCli(dist.cli, ['run', '--', node, '-e', print], { home: home.home, env: { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' } });
    const seen = JSON.parse(withProxy.stdout);
    expect(seen.run).toMatch(/^run_/);
    expect(seen.home).toBe(home.home);
    // Each base URL carries the run's secret path segment (the proxy refuses requests without it).
    expect(seen.o).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[\w-]{24}\/openai\/v1$/);
    expect(seen.a).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[\w-]{24}\/anthropic$/);

    const noProxy = await runCli(dist.cli, ['run', '--no-proxy', '--', node, '-e', print], { home: home.home, env: { OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' } });
    const seen2 = JSON.parse(noProxy.stdout);
    expect(seen2.run).toMatch(/^run_/);
    expect(seen2.o).toBe('http://127.0.0.1:9/v1');
    expect(seen2.a).toBeUndefined();
  });

  it('--json puts the summary alone on stdout', async () => {
    const r = await runCli(dist.cli, ['run', '--cap', '0.5', '--json', '--', node, '-e', '0'], { home: home.home });
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ status: 'completed', exitCode: 0, signal: null, stoppedOnExhaust: false, spendUsd: 0, budgetCapUsd: 0.5, calls: 0, blockedCalls: 0, topModels: [] });
    expect(s.command).toEqual([node, '-e', '0']);
    expect(typeof s.durationMs).toBe('number');
  });

  it('a missing command is a one-line error, exit 127, and starts no run', async () => {
    const r = await runCli(dist.cli, ['run', '--cap', '1', '--', 'no-such-command-xyz', '--flag'], { home: home.home });
    expect(r.code).toBe(127);
    expect(r.stderr.trim()).toBe('noburn: no-such-command-xyz: command not found (not found in PATH)');
    expect(await runs()).toEqual([]);
    const path = await runCli(dist.cli, ['run', '--', './nope/missing.sh'], { home: home.home });
    expect(path.code).toBe(127);
  });

  it('a file that is not executable is exit 126', async () => {
    const file = join(home.home, 'script.sh');
    writeFileSync(file, '#!/bin/sh\necho hi\n');
    chmodSync(file, 0o644);
    const r = await runCli(dist.cli, ['run', '--', file], { home: home.home });
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/cannot execute/);
    expect(await runs()).toEqual([]);
  });

  it('a child killed by a signal gives 128 + its number', async () => {
    const r = await runCli(dist.cli, ['run', '--', node, '-e', "process.kill(process.pid, 'SIGTERM')"], { home: home.home });
    expect(r.code).toBe(143);
    expect(r.stderr).toMatch(/killed by SIGTERM \(exit 143\)/);
  });

  it('bad usage: no command, a bad cap', async () => {
    expect((await runCli(dist.cli, ['run', '--cap', '1'], { home: home.home })).code).toBe(2);
    expect((await runCli(dist.cli, ['run', '--cap', 'lots', '--', node, '-e', '0'], { home: home.home })).code).toBe(2);
  });

  it('a bad OPENAI_BASE_URL is a one-line usage error (exit 2), and no run is started', async () => {
    for (const bad of ['not a url', 'ftp://example.com/v1']) {
      const r = await runCli(dist.cli, ['run', '--', node, '-e', '0'], { home: home.home, env: { OPENAI_BASE_URL: bad } });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`noburn: OPENAI_BASE_URL must be an http(s) URL (got ${JSON.stringify(bad)})\n`);
    }
    expect(await runs()).toEqual([]);
  });
});

describe('noburn run -- CMD: signals', () => {
  it('SIGINT to noburn reaches the child, whose exit code comes through', async () => {
    const p = startCli(dist.cli, ['run', '--', node, join(FIXTURES, 'signals.mjs'), 'handle'], { home: home.home });
    await p.waitFor('ready run_');
    p.child.kill('SIGINT');
    const r = await p.done;
    expect(r.stdout).toContain('got SIGINT');
    expect(r.code).toBe(42);
    expect(r.stderr).toMatch(/completed/);
  });

  it('SIGTERM to noburn kills a child without a handler: exit 143, and the run is still ended', async () => {
    const p = startCli(dist.cli, ['run', '--json', '--', node, join(FIXTURES, 'signals.mjs')], { home: home.home });
    await p.waitFor('ready run_');
    p.child.kill('SIGTERM');
    const r = await p.done;
    expect(r.code).toBe(143);
    const summary = JSON.parse(r.stdout.slice(r.stdout.indexOf('{')));
    expect(summary.signal).toBe('SIGTERM');
    const [run] = await runs();
    expect(run!.status).toBe('ended');
  });
});
