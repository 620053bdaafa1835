/** Opening noburn's SQLite files (src/lib/sqlite-file.ts): created private, cheap to reopen. */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NoburnStoreError } from '../../src/lib/errors.js';
import { openLedgerFile } from '../../src/lib/ledger/sqlite/open.js';
import { openOutboxDb } from '../../src/lib/remote/outbox-db.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'noburn-open-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;

describe('openLedgerFile', () => {
  it('creates a missing NOBURN_HOME 0700 and the ledger 0600', () => {
    const home = join(tmp, 'a', 'home');
    const db = openLedgerFile(join(home, 'noburn.db'));
    db.close();
    expect(mode(join(tmp, 'a'))).toBe(0o700);
    expect(mode(home)).toBe(0o700);
    expect(mode(join(home, 'noburn.db'))).toBe(0o600);
  });

  it('reopens an existing ledger as it is', () => {
    const path = join(tmp, 'noburn.db');
    const first = openLedgerFile(path);
    first.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42)');
    first.close();
    const again = openLedgerFile(path);
    try {
      expect(again.prepare('SELECT x FROM t').get()).toEqual({ x: 42 });
      expect(again.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(again.pragma('busy_timeout', { simple: true })).toBe(10_000);
    } finally {
      again.close();
    }
    expect(mode(path)).toBe(0o600);
  });

  it('a file that is not a database is a NoburnStoreError naming it', () => {
    const path = join(tmp, 'noburn.db');
    writeFileSync(path, 'this is not a database file, just some text long enough for a header');
    expect(() => openLedgerFile(path)).toThrow(NoburnStoreError);
    expect(() => openLedgerFile(path)).toThrow(`cannot open ledger ${path}: file is not a database`);
  });
});

describe('openOutboxDb', () => {
  it('creates the outbox 0600 in a 0700 folder, WAL', () => {
    const home = join(tmp, 'home');
    const { db } = openOutboxDb(join(home, 'outbox.db'));
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(1);
    } finally {
      db.close();
    }
    expect(mode(home)).toBe(0o700);
    expect(mode(join(home, 'outbox.db'))).toBe(0o600);
  });
});
