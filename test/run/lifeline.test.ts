/**
 * `kill -9` of `noburn run` must not leave its child running as an orphan: the lifeline
 * (a watchdog on a pipe only noburn holds) stops it — SIGTERM, then SIGKILL after the
 * grace period. Real processes: the built CLI, a real SIGKILL, a real child.
 */
import { execFileSync } from 'node:child_process';
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

/** The processes `parent` started, but `except`: for noburn run, its lifeline watchdog. */
function childrenOf(parent: number, except: number): number[] {
  const rows = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' }).trim().split('\n');
  return rows.map((r) => r.trim().split(/\s+/).map(Number)).filter(([pid, ppid]) => ppid === parent && pid !== except).map(([pid]) => pid as number);
}

async function killWrapper(extra: Record<string, string>): Promise<{ childPid: number; watchdogPid: number; killedAt: number }> {
  const home = mkdtempSync(join(tmpdir(), 'noburn-lifeline-'));
  dirs.push(home);
  const pidFile = join(home, 'child.pid');
  const run = startCli(dist.cli, ['run', '--no-proxy', '--', process.execPath, join(FIXTURES, 'pid-forever.mjs')], { home, env: { PID_FILE: pidFile, ...extra } });
  await until(() => existsSync(pidFile), 20_000, 'the child to start');
  const childPid = Number(readFileSync(pidFile, 'utf8'));
  pids.push(childPid);
  expect(alive(childPid)).toBe(true);
  await until(() => childrenOf(run.child.pid!, childPid).length === 1, 10_000, 'the watchdog to start');
  const [watchdogPid] = childrenOf(run.child.pid!, childPid) as [number];
  pids.push(watchdogPid);
  run.child.kill('SIGKILL');
  const r = await run.done;
  expect(r.signal).toBe('SIGKILL');
  return { childPid, watchdogPid, killedAt: Date.now() };
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

// The watchdog ends by itself once its work is done (it never calls process.exit): after
// stopping an orphan, and after a run that ended normally, where it touches nothing.
it('the watchdog process ends once the orphaned child is stopped', async () => {
  const { childPid, watchdogPid } = await killWrapper({});
  await until(() => !alive(childPid), 10_000, 'the orphaned child to be stopped');
  await until(() => !alive(watchdogPid), 10_000, 'the watchdog to end');
});

it('after a run that ended normally, the watchdog ends without signalling anything', async () => {
  const home = mkdtempSync(join(tmpdir(), 'noburn-lifeline-'));
  dirs.push(home);
  const siblingsFile = join(home, 'siblings.json');
  // The child names its siblings (noburn's other children: the watchdog), then exits 3.
  const script = `
    const { execFileSync } = require('node:child_process');
    const rows = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' }).trim().split('\\n');
    const siblings = rows.map((r) => r.trim().split(/\\s+/).map(Number)).filter(([pid, ppid]) => ppid === process.ppid && pid !== process.pid).map(([pid]) => pid);
    require('node:fs').writeFileSync(${JSON.stringify(siblingsFile)}, JSON.stringify(siblings));
    process.exit(3);`;
  const r = await startCli(dist.cli, ['run', '--no-proxy', '--', process.execPath, '-e', script], { home }).done;
  expect(r.code, r.stderr).toBe(3);
  const siblings = JSON.parse(readFileSync(siblingsFile, 'utf8')) as number[];
  expect(siblings).toHaveLength(1);
  pids.push(...siblings);
  await until(() => !alive(siblings[0]!), 10_000, 'the watchdog to end');
});
