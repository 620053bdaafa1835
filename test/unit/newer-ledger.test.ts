/** A ledger written by a newer noburn (a higher user_version) is refused, never used. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NoburnLedgerVersionError, NoburnStoreError } from '../../src/lib/errors.js';
import { SqliteStore } from '../../src/lib/ledger/sqlite/sqlite-store.js';
import { SCHEMA_VERSION } from '../../src/lib/ledger/sqlite/schema.js';
import { ledgerSnapshot } from '../helpers/ledger-snapshot.js';
import { runCli, useDist } from '../helpers/cli.js';

let tmp: string;
const dist = useDist();
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'noburn-newer-'));
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

function newerLedger(): string {
  const path = join(tmp, 'noburn.db');
  new SqliteStore(path).close().catch(() => {});
  const db = new Database(path);
  db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  db.close();
  return path;
}

describe('a newer ledger', () => {
  it('the store refuses it with a typed error naming both versions', () => {
    const path = newerLedger();
    let err: unknown;
    try {
      new SqliteStore(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NoburnLedgerVersionError);
    expect(err).toBeInstanceOf(NoburnStoreError);
    expect(err).toMatchObject({ code: 'NOBURN_STORE', foundVersion: SCHEMA_VERSION + 1, knownVersion: SCHEMA_VERSION });
    expect((err as Error).message).toContain(`schema version ${SCHEMA_VERSION + 1}, newer than this noburn knows (${SCHEMA_VERSION}): upgrade noburn`);
    // Other store errors are not version errors.
    expect(new NoburnStoreError('disk full')).not.toBeInstanceOf(NoburnLedgerVersionError);
  });

  it('CLI commands exit 4 with one line naming the versions, and change nothing', async () => {
    const path = newerLedger();
    const before = ledgerSnapshot(path);
    for (const args of [['budget', 'show'], ['run', 'start'], ['record', '--model', 'm', '--tokens-in', '1', '--tokens-out', '1']]) {
      const r = await runCli(dist.cli, args, { home: tmp });
      expect(r.code, args.join(' ')).toBe(4);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`schema version ${SCHEMA_VERSION + 1}.*\\(${SCHEMA_VERSION}\\): upgrade noburn`));
    }
    expect(ledgerSnapshot(path)).toEqual(before);
  });
});
