/**
 * When the local ledger cannot decide, `check` fails open (onError "allow", documented) or
 * closed ("block"), and its warning names the cause and the ledger's path. A 0-byte ledger
 * file would silently open as a new one, with every cap gone: that is warned about.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli, tempHome, useDist } from '../helpers/cli.js';

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
