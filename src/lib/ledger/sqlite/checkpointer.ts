/**
 * The timed WAL checkpoint of a long-lived writer, on a worker thread with its own
 * connection to the file. A checkpoint copies the WAL into the database and fsyncs it:
 * milliseconds during which, on the main thread, no request is served (it was most of
 * serve's p99 when SQLite ran it inside a commit, and a stall every 500 ms when a timer
 * ran it between requests). PASSIVE never blocks the writer; the writer restarts the WAL
 * from the beginning after a checkpoint, as before. If no worker can be started the
 * checkpoint runs on the main thread's timer instead.
 *
 * `primeWal` (noburn run's proxy): the first commit after a full checkpoint restarts the
 * WAL, and with synchronous=NORMAL that restart fsyncs the WAL's new header: 1-15 ms on
 * the main thread, paid by the first call after each idle spell (the first proxied call of
 * a run always: the run's start is checkpointed while the child starts). With it the
 * worker makes that restart itself, right after a checkpoint that emptied the WAL: one
 * commit of a value already there (`PRAGMA user_version` set to itself, in one
 * transaction), so the main thread's next commit appends instead. Nothing is changed. A
 * tick when no other connection has committed since the last one does nothing, so the
 * primed WAL is not checkpointed and primed again while idle.
 */
import { createRequire } from 'node:module';
import type * as WorkerThreads from 'node:worker_threads';
import type { Database } from 'better-sqlite3';
import { sqliteModulePaths } from '../../sqlite-file.js';

const WORKER = `
const { parentPort, workerData: w } = require('node:worker_threads');
const Database = require(w.module);
const db = new Database(w.path, { nativeBinding: w.binding, fileMustExist: true });
db.pragma('busy_timeout = 1000');
// As the main connection: its one commit (the primer) fsyncs no more than a main-thread commit would.
if (w.prime) db.pragma('synchronous = NORMAL');
let seen = null;
function checkpoint() {
  try {
    if (w.prime) {
      const v = db.pragma('data_version', { simple: true });
      if (v === seen) return;
      seen = v;
    }
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (w.prime && r && r.busy === 0 && r.log > 0 && r.checkpointed === r.log) {
      db.transaction(() => db.pragma('user_version = ' + db.pragma('user_version', { simple: true }))).immediate();
    }
  } catch {
    // A full disk or a busy file: the WAL still holds every commit; the next tick tries again.
  }
}
const timer = setInterval(checkpoint, w.everyMs);
parentPort.on('message', (m) => {
  // { now: id, flag? }: one checkpoint at once, answered with { done: id } (Checkpointer.now).
  if (m && typeof m.now === 'number') {
    checkpoint();
    if (m.flag) {
      Atomics.store(m.flag, 0, 1);
      Atomics.notify(m.flag, 0);
    }
    parentPort.postMessage({ done: m.now });
    return;
  }
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;
export interface Checkpointer {
  /**
   * One checkpoint now, where the timer runs them; resolves once it is done (a seam for
   * tests). `flag` (over a SharedArrayBuffer) is set to 1 and notified when it is done, so
   * that a blocked thread can wait for it (Atomics.wait).
   */
  now(flag?: Int32Array): Promise<void>;
  stop(): Promise<void>;
}

export function startCheckpoints(db: Database, path: string, everyMs: number, primeWal = false): Checkpointer {
  // The automatic checkpoint stays on at a high threshold: a bound on the WAL if the timer falls behind.
  db.pragma('wal_autocheckpoint = 20000');
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  if (path !== ':memory:') {
    try {
      return onWorker(path, everyMs, primeWal, () => onTimer(db, everyMs));
    } catch {
      // no worker threads here: the main thread's timer below
    }
  }
  return onTimer(db, everyMs);
}

function onWorker(path: string, everyMs: number, prime: boolean, fallback: () => Checkpointer): Checkpointer {
  // Loaded here, not at import: node:worker_threads costs ~4 ms, and short-lived commands
  // (`check`) bundle this module but never start a checkpointer.
  const { Worker } = createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreads;
  const worker = new Worker(WORKER, { eval: true, workerData: { ...sqliteModulePaths(), path, everyMs, prime } });
  worker.unref();
  let replacement: Checkpointer | null = null;
  let stopped = false;
  let asked = 0;
  const waiting = new Map<number, () => void>();
  worker.once('error', () => {
    if (!stopped) replacement = fallback();
    // A checkpoint asked of the dead worker is not coming: the replacement runs the next one.
    for (const resolve of waiting.values()) resolve();
    waiting.clear();
  });
  // Listened to only while a checkpoint is asked for: a 'message' listener keeps the worker
  // (and the process) alive, which the timer alone must never do.
  const onMessage = (m: { done?: number }) => {
    if (typeof m.done !== 'number') return;
    waiting.get(m.done)?.();
    waiting.delete(m.done);
    if (waiting.size === 0) {
      worker.off('message', onMessage);
      worker.unref();
    }
  };
  return {
    now(flag) {
      if (replacement) return replacement.now(flag);
      const id = ++asked;
      if (waiting.size === 0) worker.on('message', onMessage);
      const done = new Promise<void>((resolve) => waiting.set(id, resolve));
      worker.postMessage({ now: id, flag });
      return done;
    },
    async stop() {
      stopped = true;
      for (const resolve of waiting.values()) resolve();
      waiting.clear();
      if (replacement) return replacement.stop();
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      const t = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(t);
    },
  };
}

function onTimer(db: Database, everyMs: number): Checkpointer {
  const checkpoint = () => {
    if (!db.open) return;
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // as in the worker: the next tick tries again. Thrown from a timer it would kill the server.
    }
  };
  const timer = setInterval(checkpoint, everyMs);
  timer.unref();
  return {
    now(flag) {
      checkpoint();
      if (flag) {
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
      }
      return Promise.resolve();
    },
    stop() {
      clearInterval(timer);
      return Promise.resolve();
    },
  };
}
