import { render, renderToString } from 'ink';
import type { NoburnConfig } from '../lib/config.js';
import { snapshotJson } from '../lib/dashboard/json.js';
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

/**
 * How the dashboard ended. The CLI maps it to an exit code (src/cli/commands/watch.ts,
 * with the one table in src/cli/exit-codes.ts); the tui does not import the cli.
 */
export type WatchOutcome =
  | { readonly kind: 'ok' }
  /** The live dashboard was ended by SIGTERM or SIGHUP (Ctrl-C and `q` are `ok`). */
  | { readonly kind: 'interrupted' }
  /** One frame (`--once`): the ledger could not be read. */
  | { readonly kind: 'ledger-error'; readonly message: string }
  /** One frame (`--once --remote`): the pull from the server failed with `error`. */
  | { readonly kind: 'sync-failed'; readonly error: unknown };

const OK: WatchOutcome = { kind: 'ok' };

/** Alternate screen on/off, cursor show. */
const ENTER_ALT = '\u001b[?1049h\u001b[H';
const LEAVE_ALT = '\u001b[?25h\u001b[?1049l';

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

async function once(o: RunWatchOptions, reader: DashboardReader, sync: SyncFn | null, stdout: NodeJS.WriteStream): Promise<WatchOutcome> {
  const clock = o.clock ?? Date.now;
  let banner: Banner | null = null;
  let outcome: WatchOutcome = OK;
  if (sync !== null) {
    try {
      await sync();
    } catch (e) {
      banner = syncProblem(e, null);
      outcome = { kind: 'sync-failed', error: e };
      o.out.err(`noburn watch: ${banner.text}`);
    }
  }
  const snapshot = reader.read(clock());
  if (snapshot.status === 'error') outcome = { kind: 'ledger-error', message: snapshot.message ?? 'cannot read the ledger' };
  if (o.json) {
    o.out.json(snapshotJson(snapshot));
    if (snapshot.message !== null) o.out.err(snapshot.message);
    return outcome;
  }
  const columns = stdout.isTTY && stdout.columns ? stdout.columns : 80;
  const rows = stdout.isTTY && stdout.rows ? stdout.rows : 24;
  o.out.out(renderFrame(snapshot, { columns, rows, color: o.out.color, mode: o.remote ? 'remote' : 'local', banner }));
  return outcome;
}

async function live(o: RunWatchOptions, reader: DashboardReader, sync: SyncFn | null, stdout: NodeJS.WriteStream): Promise<WatchOutcome> {
  const stdin = o.stdin ?? process.stdin;
  const keys = stdin.isTTY === true;
  let outcome: WatchOutcome = OK;
  stdout.write(ENTER_ALT);
  const app = render(
    <App source={reader} clock={o.clock ?? Date.now} color={o.out.color} mode={o.remote ? 'remote' : 'local'} sync={sync} keys={keys} />,
    { stdout, stdin, exitOnCtrlC: false, patchConsole: false },
  );
  // Ctrl-C is a quit key (raw mode reads it as a key; before raw mode, or without a
  // terminal on stdin, it arrives as SIGINT): exit 0 either way. SIGTERM/SIGHUP interrupt.
  const onSignal = (signal: NodeJS.Signals) => {
    if (signal !== 'SIGINT') outcome = { kind: 'interrupted' };
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
  return outcome;
}

/**
 * `noburn watch`: the live dashboard in a terminal, or one frame (`--once`, or when stdout
 * is not a terminal), or the snapshot as JSON (`--once --json`). Returns how it ended;
 * the CLI turns that into the exit code.
 */
export async function runWatch(o: RunWatchOptions): Promise<WatchOutcome> {
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
