/**
 * What a remote authority reports goes to the guard's handlers from the start: they are
 * given when the authority is created, not attached when the first record creates the
 * outbox. A mirror that cannot be written is reported to onRecordError (as a delay, not a
 * rejection: the mirror is never the authority) even when no record was made.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestServer } from '../server/helpers.js';
import type { TestServer } from '../server/helpers.js';
import { clientHome, remoteGuard, until } from './helpers.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.dispose();
});

it('a mirror write failure after a check alone reaches onRecordError, without a rejected count', async () => {
  const home = clientHome();
  // The mirror path is a folder: SQLite cannot open it.
  mkdirSync(join(home, 'noburn.db'));
  const seen: { err: unknown; info: { rejected: number } | undefined }[] = [];
  const g = remoteGuard(t.url, await t.key('hooks', 'app'), home, { onRecordError: (err, info) => seen.push({ err, info }) });
  try {
    const d = await g.check({ model: 'test-model', estimatedTokensIn: 10, estimatedTokensOut: 10 });
    expect(d.source).toBe('server');
    await until(() => seen.length > 0, 5000, 'the mirror failure to be reported');
    expect(seen[0]?.info).toBeUndefined();
    expect(seen[0]?.err).toBeInstanceOf(Error);
  } finally {
    await g.close();
  }
});
