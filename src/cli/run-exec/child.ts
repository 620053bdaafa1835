import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { startLifeline } from './lifeline.js';

/** Signals a wrapper must pass on: the child, not noburn, decides what they mean. */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface ChildOutcome {
  /** The exit code, or null when a signal ended the child (or it never started). */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stop() was called (the run cap was reached with --stop-on-exhaust). */
  stopped: boolean;
  /** Set when the child could not be started at all. */
  spawnError: NodeJS.ErrnoException | null;
  durationMs: number;
}

export interface SupervisedChild {
  readonly done: Promise<ChildOutcome>;
  /** SIGTERM now, SIGKILL after graceMs if the child is still there. */
  stop(): void;
}

export interface ChildSpec {
  path: string;
  /** What the child sees as argv[0]: the name the user typed. */
  argv0: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  graceMs: number;
}

/**
 * Runs the child on the same terminal (stdio inherited, same process group, so it can
 * read the terminal), forwards SIGINT/SIGTERM/SIGHUP sent to noburn, and resolves when
 * it exits. noburn itself survives those signals until the child is gone, so that it can
 * end the run and print the summary.
 */
export function superviseChild(spec: ChildSpec): SupervisedChild {
  const started = performance.now();
  const child = spawn(spec.path, [...spec.args], { argv0: spec.argv0, env: spec.env, stdio: 'inherit' });
  // If noburn is killed (even with SIGKILL), the child is stopped instead of running on as an orphan.
  const lifeline = child.pid === undefined ? null : startLifeline(child.pid, spec.graceMs);
  let stopped = false;
  let killTimer: NodeJS.Timeout | undefined;

  const forward = (sig: NodeJS.Signals): void => {
    try {
      child.kill(sig);
    } catch {
      // already gone
    }
  };
  const handlers = FORWARDED_SIGNALS.map((sig) => [sig, () => forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);

  const done = new Promise<ChildOutcome>((resolve) => {
    let settled = false;
    const finish = (o: Omit<ChildOutcome, 'stopped' | 'durationMs'>): void => {
      if (settled) return;
      settled = true;
      lifeline?.release();
      clearTimeout(killTimer);
      for (const [sig, h] of handlers) process.off(sig, h);
      resolve({ ...o, stopped, durationMs: performance.now() - started });
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      // 'error' also fires when a kill fails; only a child that never started ends here.
      if (child.pid === undefined) finish({ code: null, signal: null, spawnError: e });
    });
    child.once('exit', (code, signal) => finish({ code, signal, spawnError: null }));
  });

  return {
    done,
    stop() {
      if (stopped) return;
      stopped = true;
      forward('SIGTERM');
      killTimer = setTimeout(() => forward('SIGKILL'), spec.graceMs);
    },
  };
}

/**
 * The exit code noburn returns for the child's outcome. Only the entry point may set the
 * exit code, so a signal is not re-raised on noburn itself: it becomes 128 + the signal
 * number, as shells report it (SIGINT 130, SIGTERM 143, SIGKILL 137).
 */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + (constants.signals[signal] ?? 0);
  return 1;
}
