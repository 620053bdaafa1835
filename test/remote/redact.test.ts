/** A password in NOBURN_URL (or any URL noburn prints) never appears in a message or log line. */
import { expect, it } from 'vitest';
import { NoburnUnreachableError } from '../../src/lib/errors.js';
import { redactSecrets } from '../../src/lib/redact.js';
import { runCli, tempHome, useDist } from '../helpers/cli.js';

const dist = useDist();

it('the helper masks passwords, bare user-info tokens and secret query parameters', () => {
  expect(redactSecrets('cannot reach http://ops:hunter2@10.0.0.1:8787/x')).toBe('cannot reach http://ops:***@10.0.0.1:8787/x');
  expect(redactSecrets('https://tok3n@host/p')).toBe('https://***@host/p');
  expect(redactSecrets('postgres://u@h/db?sslmode=require&password=hunter2')).toBe('postgres://***@h/db?sslmode=require&password=***');
  expect(redactSecrets('no url here')).toBe('no url here');
  // Every library error passes through it.
  expect(new NoburnUnreachableError('cannot reach http://a:hunter2@h').message).not.toContain('hunter2');
});

it('CLI messages never print the password of NOBURN_URL (unreachable, bad URL, run start, check)', async () => {
  const home = tempHome();
  const env = { NOBURN_URL: 'http://admin:hunter2@127.0.0.1:1', NOBURN_API_KEY: 'nb_key_abcdefgh.' + 'a'.repeat(43), NOBURN_TIMEOUT_MS: '300' };
  const run = await runCli(dist.cli, ['run', 'start', '--cap', '1'], { home, env });
  expect(run.code).toBe(4);
  expect(run.stderr).toMatch(/admin:\*\*\*@127\.0\.0\.1/);
  const check = await runCli(dist.cli, ['check', '--model', 'gpt-4o', '--tokens-in', '1', '--tokens-out', '1', '--json'], { home, env });
  const record = await runCli(dist.cli, ['record', '--model', 'gpt-4o', '--tokens-in', '1', '--tokens-out', '1'], { home, env });
  const bad = await runCli(dist.cli, ['budget', 'show'], { home, env: { NOBURN_URL: 'ftp://admin:hunter2@host' } });
  expect(bad.code).toBe(2);
  for (const r of [run, check, record, bad]) {
    expect(r.stdout + r.stderr).not.toContain('hunter2');
  }
});

it('serve logs a postgres store without its password', async () => {
  const home = tempHome();
  const r = await runCli(dist.cli, ['serve', '--port', '0', '--store', 'postgres://noburn:hunter2@127.0.0.1:1/x?connect_timeout=1'], { home, timeoutMs: 20_000 });
  expect(r.code).not.toBe(0);
  expect(r.stdout + r.stderr).not.toContain('hunter2');
});
