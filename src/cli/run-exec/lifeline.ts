import { spawn } from 'node:child_process';

/**
 * The lifeline of `noburn run`'s child (docs/run.md, "If noburn itself is killed"): a tiny
 * watchdog process holds the read end of a pipe whose write end only noburn has. When
 * noburn dies in any way — `kill -9` included, which no handler can see — the kernel
 * closes that end, the watchdog reads end-of-file and stops the child: SIGTERM, then
 * SIGKILL after the grace period. When the child ends normally, noburn says "done" first
 * and the watchdog leaves without touching anything (so a reused pid is never signalled).
 *
 * Linux has PR_SET_PDEATHSIG for this, but Node cannot set it on a spawned child without a
 * native addon; a pipe and a watchdog work with plain Node on every POSIX system. The
 * watchdog ignores the terminal's signals (Ctrl-C reaches the child and noburn, which
 * handle it), costs one small Node process for the run's lifetime, and never keeps noburn
 * alive. It ends by itself (no process.exit): once stdin has ended and its timers are
 * cleared nothing holds its event loop (signal listeners do not), so it exits 0.
 */
const WATCHDOG = `
const pid = Number(process.argv[1]);
const grace = Number(process.argv[2]);
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']) process.on(s, () => {});
let done = false;
let stopping = false;
const alive = () => { try { process.kill(pid, 0); return true; } catch { return false; } };
const orphaned = () => {
  if (done || stopping || !alive()) return;
  stopping = true;
  try { process.kill(pid, 'SIGTERM'); } catch {}
  const poll = setInterval(() => { if (!alive()) { clearInterval(poll); clearTimeout(kill); } }, 25);
  const kill = setTimeout(() => { clearInterval(poll); try { process.kill(pid, 'SIGKILL'); } catch {} }, grace);
};
process.stdin.on('data', (d) => { if (String(d).includes('done')) done = true; });
process.stdin.on('end', orphaned);
process.stdin.on('error', orphaned);
process.stdin.resume();
`;

export interface Lifeline {
  /** The child has ended: the watchdog leaves without signalling anything. */
  release(): void;
}

export function startLifeline(childPid: number, graceMs: number): Lifeline {
  let released = false;
  let watchdog;
  try {
    watchdog = spawn(process.execPath, ['-e', WATCHDOG, String(childPid), String(graceMs)], { stdio: ['pipe', 'ignore', 'ignore'] });
  } catch {
    // No watchdog (no processes left?): the run goes on without a lifeline.
    return { release() {} };
  }
  watchdog.on('error', () => {});
  watchdog.stdin.on('error', () => {});
  // Never keeps noburn running: neither the process nor its pipe holds the event loop.
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  return {
    release() {
      if (released) return;
      released = true;
      watchdog.stdin.end('done\n');
    },
  };
}
