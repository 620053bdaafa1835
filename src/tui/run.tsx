import { render, renderToString } from 'ink';
import type { NoburnConfig } from '../lib/config.js';
import { DashboardReader } from '../lib/dashboard/reader.js';
import type { DashboardSnapshot } from '../lib/dashboard/snapshot.js';
import { App } from './App.js';
import { Dashboard } from './components/Dashboard.js';
import type { Banner } from './components/Dashboard.js';
import { syncProblem } from './hooks/use-remote-sync.js';
import type { SyncFn } from './hooks/use-remote-sync.js';
import { loadMirrorSync } from './remote.js';
import type { MirrorSync, MirrorSyncLoader } from './remote.js';
import { INITIAL_VIEW } from './view.js';

/** The part of the CLI's Output the dashboard uses (src/cli/output.ts). */
export interface WatchOutput {
  out(text: string): void;
  err(text: string): void;
  json(value: unknown): void;
  readonly color: boolean;
}

export interface RunWatchOptions {
  config: NoburnConfig;
  remote: boolean;
  once: boolean;
  json: boolean;
  out: WatchOutput;
  /** Defaults to the process's streams. */
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  clock?: () => number;
  /** Loads the mirror-sync module for --remote (tests load a fake one). */
  loadSync?: MirrorSyncLoader;
}

// Exit codes, as in src/cli/exit-codes.ts (the tui does not import the cli).
const EXIT = { OK: 0, USAGE: 2, AUTH: 3, UNREACHABLE: 4, INTERNAL: 70, INTERRUPTED: 130 } as const;

/** Alternate screen on/off, cursor show. */
const ENTER_ALT = '\u001b[?1049h\u001b[H';
const LEAVE_ALT = '\u001b[?25h\u001b[?1049l';

function exitFor(e: unknown): number {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === 'NOBURN_AUTH' || code === 'NOBURN_FORBIDDEN') return EXIT.AUTH;
  if (code === 'NOBURN_CONFIG' || code === 'NOBURN_VALIDATION') return EXIT.USAGE;
  return EXIT.UNREACHABLE;
}

/** One frame as text (for --once and the benchmark). */
export function renderFrame(
  snapshot: DashboardSnapshot,
  opts: { columns: number; rows: number; color: boolean; mode: 'local' | 'remote'; banner?: Banner | null },
): string {
  return renderToString(
    <Dashboard
      snapshot={snapshot}
      view={INITIAL_VIEW}
      columns={opts.columns}
      rows={opts.rows}
      now={snapshot.generatedAt}
      color={opts.color}
      mode={opts.mode}
      banner={opts.banner ?? null}
      interactive={false}
    />,
    { columns: opts.columns },
  );
}

async function once(o: RunWatchOptions, reader: DashboardReader, sync: SyncFn | null, stdout: NodeJS.WriteStream): Promise<number> {
  const clock = o.clock ?? Date.now;
  let banner: Banner | null = null;
  let code: number = EXIT.OK;
  if (sync !== null) {
    try {
      await sync();
    } catch (e) {
      banner = syncProblem(e, null);
      code = exitFor(e);
      o.out.err(`noburn watch: ${banner.text}`);
    }
  }
  const snapshot = reader.read(clock());
  if (snapshot.status === 'error') code = EXIT.INTERNAL;
  if (o.json) {
    o.out.json(snapshot);
    if (snapshot.message !== null) o.out.err(snapshot.message);
    return code;
  }
  const columns = stdout.isTTY && stdout.columns ? stdout.columns : 80;
  const rows = stdout.isTTY && stdout.rows ? stdout.rows : 24;
  o.out.out(renderFrame(snapshot, { columns, rows, color: o.out.color, mode: o.remote ? 'remote' : 'local', banner }));
  return code;
}

async function live(o: RunWatchOptions, reader: DashboardReader, sync: SyncFn | null, stdout: NodeJS.WriteStream): Promise<number> {
  const stdin = o.stdin ?? process.stdin;
  const keys = stdin.isTTY === true;
  let code: number = EXIT.OK;
  stdout.write(ENTER_ALT);
  const app = render(
    <App source={reader} clock={o.clock ?? Date.now} color={o.out.color} mode={o.remote ? 'remote' : 'local'} sync={sync} keys={keys} />,
    { stdout, stdin, exitOnCtrlC: false, patchConsole: false },
  );
  // Ctrl-C is a quit key (raw mode reads it as a key; before raw mode, or without a
  // terminal on stdin, it arrives as SIGINT): exit 0 either way. SIGTERM/SIGHUP interrupt.
  const onSignal = (signal: NodeJS.Signals) => {
    if (signal !== 'SIGINT') code = EXIT.INTERRUPTED;
    app.unmount();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  try {
    await app.waitUntilExit();
  } finally {
    for (const s of signals) process.off(s, onSignal);
    stdout.write(LEAVE_ALT);
  }
  return code;
}

/**
 * `noburn watch`: the live dashboard in a terminal, or one frame (`--once`, or when stdout
 * is not a terminal), or the snapshot as JSON (`--once --json`). Returns the exit code.
 */
export async function runWatch(o: RunWatchOptions): Promise<number> {
  const stdout = o.stdout ?? process.stdout;
  const reader = new DashboardReader({ dbPath: o.config.dbPath, projectId: o.config.projectId });
  let mirror: MirrorSync | null = null;
  try {
    mirror = o.remote ? await loadMirrorSync(o.config, o.loadSync) : null;
    const sync = mirror?.sync ?? null;
    if (o.once || o.json || stdout.isTTY !== true) {
      if (!o.once && !o.json) o.out.err('noburn watch: stdout is not a terminal, printing one frame (use --once to say so)');
      return await once(o, reader, sync, stdout);
    }
    return await live(o, reader, sync, stdout);
  } finally {
    reader.close();
    await mirror?.close().catch(() => {});
  }
}
