/**
 * When the local ledger cannot decide (corrupt, unreadable, newer than this build, locked,
 * full), `check` fails open (onError "allow", documented) or closed ("block"), and its
 * warning names the cause and the ledger's path. A 0-byte ledger
 * file would silently open as a new one, with every cap gone: that is warned about.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { cleanEnv, runCli, tempHome, useDist, type RunResult } from '../helpers/cli.js';

const dist = useDist();

const check = ['check', '--model', 'gpt-4o', '--tokens-in', '10', '--tokens-out', '10'];

it('a corrupt ledger: the warning names the file and the fault; exit 0 (fail-open), exit 1 with onError block', async () => {
  const home = tempHome();
  const db = join(home, 'noburn.db');
  writeFileSync(db, 'this is not a SQLite database, just some bytes that are long enough');
  const open = await runCli(dist.cli, check, { home });
  expect(open.code, open.stderr).toBe(0);
  expect(open.stderr).toMatch(new RegExp(`warning: .*${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: file is not a database`));
  expect(open.stderr).not.toContain('could not be reached;');
  const closed = await runCli(dist.cli, check, { home, env: { NOBURN_ON_ERROR: 'block' } });
  expect(closed.code).toBe(1);
  expect(closed.stderr).toContain(db);
  expect(closed.stderr).toContain('blocked: noburn_unreachable');
});

it('a ledger path that cannot be opened (a directory): the warning names it and why', async () => {
  const home = tempHome();
  mkdirSync(join(home, 'noburn.db'));
  const r = await runCli(dist.cli, check, { home });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toContain(`${join(home, 'noburn.db')}: EISDIR`);
});

it('a 0-byte ledger file is warned about (it would be used as a new, cap-less ledger)', async () => {
  const home = tempHome();
  writeFileSync(join(home, 'noburn.db'), '');
  const r = await runCli(dist.cli, check, { home });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toContain(`warning: the ledger ${join(home, 'noburn.db')} is an empty (0-byte) file`);
  // A fresh home (no file) says nothing.
  const fresh = await runCli(dist.cli, check, { home: tempHome() });
  expect(fresh.stderr).not.toContain('warning');
});

// The other store failures docs/cli.md names: a ledger newer than this build, one locked
// by another process, one that cannot be written (full). Each: exit 0 with a warning that
// names the file and the cause (onError "allow", the default); exit 1 noburn_unreachable
// with onError "block".

/** A home whose ledger exists (one check made it) and its path. */
async function ledgerHome(): Promise<{ home: string; db: string }> {
  const home = tempHome();
  const first = await runCli(dist.cli, check, { home });
  expect(first.code, first.stderr).toBe(0);
  return { home, db: join(home, 'noburn.db') };
}

function expectFailOpen(r: RunResult, db: string, cause: RegExp): void {
  expect(r.code, r.stderr).toBe(0);
  const warning = r.stderr.split('\n').find((l) => l.startsWith('warning: '));
  expect(warning, r.stderr).toBeDefined();
  expect(warning).toContain(db);
  expect(warning).toMatch(cause);
  expect(r.stderr).toContain('allowed: gpt-4o');
}

function expectBlocked(r: RunResult, db: string, cause: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toContain(db);
  expect(r.stderr).toMatch(cause);
  expect(r.stderr).toContain('blocked: noburn_unreachable');
}

it('a ledger written by a newer noburn (user_version + 1): the warning names it and the versions', async () => {
  const { home, db } = await ledgerHome();
  const conn = new Database(db);
  const v = conn.pragma('user_version', { simple: true }) as number;
  conn.pragma(`user_version = ${v + 1}`);
  conn.close();
  const cause = new RegExp(`schema version ${v + 1}, newer than this noburn knows \\(${v}\\)`);
  expectFailOpen(await runCli(dist.cli, check, { home }), db, cause);
  expectBlocked(await runCli(dist.cli, check, { home, env: { NOBURN_ON_ERROR: 'block' } }), db, cause);
});

it('a ledger another process holds locked (BEGIN EXCLUSIVE) past the busy timeout: the warning names it and the lock', async () => {
  const { home, db } = await ledgerHome();
  // A second connection, as another process's, holds the write lock for the whole test.
  const other = new Database(db);
  other.exec('BEGIN EXCLUSIVE');
  try {
    const cause = /database is locked \(SQLITE_BUSY: another process held it locked past the busy timeout\)/;
    expectFailOpen(await runCli(dist.cli, check, { home }), db, cause);
    expectBlocked(await runCli(dist.cli, check, { home, env: { NOBURN_ON_ERROR: 'block' } }), db, cause);
  } finally {
    other.exec('ROLLBACK');
    other.close();
  }
}, 90_000);

it('a ledger that cannot be written (file size limit, ulimit -f): the warning names it and why', async () => {
  const { home, db } = await ledgerHome();
  // The write-ahead log is made longer than the limit, and a reader keeps it from being
  // restarted: the check's write lands past the limit and fails (EFBIG), as on a full disk.
  const writer = new Database(db);
  writer.pragma('wal_autocheckpoint = 0');
  writer.exec('CREATE TABLE pad (x BLOB)');
  const pad = writer.prepare('INSERT INTO pad VALUES (randomblob(4000))');
  for (let i = 0; i < 60; i++) pad.run();
  writer.exec('DROP TABLE pad');
  const reader = new Database(db);
  reader.exec('BEGIN');
  reader.prepare('SELECT count(*) FROM sqlite_master').get();
  try {
    const cause = /could not be written: disk full, file size limit or I\/O fault/;
    expectFailOpen(await limited(home, {}), db, cause);
    expectBlocked(await limited(home, { NOBURN_ON_ERROR: 'block' }), db, cause);
  } finally {
    reader.exec('ROLLBACK');
    reader.close();
    writer.close();
  }
});

/** `noburn check` under `ulimit -f 100` (100 KiB per file written), in a bash wrapper. */
function limited(home: string, env: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', 'ulimit -f 100 && exec "$0" "$@"', process.execPath, dist.cli, ...check], {
      env: cleanEnv({ NOBURN_HOME: home, HOME: home, ...env }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
