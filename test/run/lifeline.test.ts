/**
 * `kill -9` of `noburn run` must not leave its child running as an orphan: the lifeline
 * (a watchdog on a pipe only noburn holds) stops it — SIGTERM, then SIGKILL after the
 * grace period. Real processes: the built CLI, a real SIGKILL, a real child.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { until } from '../remote/helpers.js';
import { REPO_ROOT, startCli, useDist } from '../helpers/cli.js';

const FIXTURES = join(REPO_ROOT, 'test/run/fixtures');
const dist = useDist();
const dirs: string[] = [];
const pids: number[] = [];
afterEach(() => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone (the expected case)
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function killWrapper(extra: Record<string, string>): Promise<{ childPid: number; killedAt: number }> {
  const home = mkdtempSync(join(tmpdir(), 'noburn-lifeline-'));
  dirs.push(home);
  const pidFile = join(home, 'child.pid');
  const run = startCli(dist.cli, ['run', '--no-proxy', '--', process.execPath, join(FIXTURES, 'pid-forever.mjs')], { home, env: { PID_FILE: pidFile, ...extra } });
  await until(() => existsSync(pidFile), 20_000, 'the child to start');
  const childPid = Number(readFileSync(pidFile, 'utf8'));
  pids.push(childPid);
  expect(alive(childPid)).toBe(true);
  run.child.kill('SIGKILL');
  const r = await run.done;
  expect(r.signal).toBe('SIGKILL');
  return { childPid, killedAt: Date.now() };
}

it('kill -9 of noburn run stops the child (SIGTERM)', async () => {
  const { childPid } = await killWrapper({});
  await until(() => !alive(childPid), 10_000, 'the orphaned child to be stopped');
});

it('a child that ignores SIGTERM is killed after the grace period', async () => {
  const { childPid, killedAt } = await killWrapper({ IGNORE_TERM: '1', NOBURN_STOP_GRACE_MS: '500' });
  await until(() => !alive(childPid), 10_000, 'the orphaned child to be killed');
  expect(Date.now() - killedAt).toBeGreaterThanOrEqual(400);
});
