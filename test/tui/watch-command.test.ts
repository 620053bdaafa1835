/** `noburn watch --once [--json]` in-process: the frame, the JSON, and the messages. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchCommand, watchExitCode } from '../../src/cli/commands/watch.js';
import type { Output } from '../../src/cli/output.js';
import { resolveConfig } from '../../src/lib/config.js';
import { NoburnConfigError } from '../../src/lib/errors.js';
import { loadMirrorSync } from '../../src/tui/remote.js';
import { runWatch } from '../../src/tui/run.js';
import { USD, tempLedger } from './fixtures.js';

type Json = Record<string, unknown>;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function capture(): Output & { stdout: string; stderr: string; docs: unknown[] } {
  const o = {
    stdout: '',
    stderr: '',
    docs: [] as unknown[],
    color: false,
    out: (t: string) => void (o.stdout += t + '\n'),
    err: (t: string) => void (o.stderr += t + '\n'),
    json: (v: unknown) => void o.docs.push(JSON.parse(JSON.stringify(v))),
    write: (t: string) => {
      o.stdout += t;
      return Promise.resolve();
    },
  };
  return o;
}

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'noburn-watch-'));
  vi.stubEnv('NOBURN_HOME', home);
  vi.stubEnv('NOBURN_URL', '');
  vi.stubEnv('NOBURN_PROJECT_ID', '');
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(home, { recursive: true, force: true });
});

describe('watch --once', () => {
  it('missing ledger: a message, exit 0', async () => {
    const out = capture();
    expect(await watchCommand({ once: true }, out)).toBe(0);
    expect(out.stdout.replace(/\s+/g, ' ')).toContain(`No ledger at ${join(home, 'noburn.db')} yet: it is created by the first noburn check, record or run.`);
    expect(out.stdout).not.toContain('    at ');
  });

  it('missing ledger with --json: the snapshot says so on stdout, the message on stderr', async () => {
    const out = capture();
    expect(await watchCommand({ once: true, json: true }, out)).toBe(0);
    expect(out.docs).toHaveLength(1);
    expect(out.docs[0]).toMatchObject({ status: 'missing', projectId: 'default', users: [], runs: [] });
    expect(out.stderr).toContain('No ledger at');
    expect(out.stdout).toBe('');
  });

  it('prints one frame of a real ledger; --json the same figures', async () => {
    const l = tempLedger();
    try {
      await l.store.setBudget({ projectId: 'default', scope: 'project', userId: null, capNano: 10 * USD, period: 'total', now: Date.now() });
      await l.record({ userId: 'alice', costNano: 1.25 * USD, ts: Date.now() });
      vi.stubEnv('NOBURN_HOME', l.home);
      const out = capture();
      expect(await watchCommand({ once: true }, out)).toBe(0);
      const lines = out.stdout.split('\n');
      expect(lines[1]).toMatch(/^Spend \$1\.25 \/ \$10\.00 total █+░+ +12\.5%/);
      expect(lines.find((x) => x.startsWith('alice'))).toMatch(/^alice +\$1\.25 +- +- +1 +0 +0s ago$/);
      expect(lines.some((x) => x.includes('q quit'))).toBe(false);
      // --once without a terminal draws for the default 80 columns.
      const columns = 80;
      for (const x of lines) expect(Array.from(x).length).toBeLessThanOrEqual(columns);

      const js = capture();
      expect(await watchCommand({ once: true, json: true }, js)).toBe(0);
      // Like every other --json: USD numbers and ISO times, no nano-dollars, no epoch milliseconds.
      const snap = js.docs[0] as Json;
      expect(snap['status']).toBe('ok');
      expect(snap['project']).toMatchObject({ spentUsd: 1.25, capUsd: 10, period: 'total', windowStart: ISO, windowEnd: null, lastAt: ISO });
      expect(snap['generatedAt']).toMatch(ISO);
      expect((snap['users'] as Json[]).map((u) => [u['userId'], u['spentUsd'], u['lastAt']])).toEqual([['alice', 1.25, expect.stringMatching(ISO)]]);
      expect(snap['models']).toEqual([{ model: 'gpt-4o', spentUsd: 1.25, calls: 1, blockedCalls: 0, unpricedCalls: 0, lastAt: expect.stringMatching(ISO) }]);
      expect((snap['burn'] as Json)['bucketsUsd']).toContain(1.25);
      expect(JSON.stringify(snap)).not.toMatch(/Nano|atMs/);
    } finally {
      await l.dispose();
    }
  });

  it('without --once, a stdout that is not a terminal gets one frame and a note', async () => {
    const out = capture();
    const fake = Object.assign(new (await import('node:stream')).PassThrough(), { isTTY: false }) as unknown as NodeJS.WriteStream;
    expect(await runWatch({ config: resolveConfig(), remote: false, once: false, json: false, out, stdout: fake })).toEqual({ kind: 'ok' });
    expect(out.stderr).toContain('stdout is not a terminal, printing one frame');
    expect(out.stdout).toContain('No ledger at');
  });
});

describe('watch exit codes (src/cli/exit-codes.ts)', () => {
  it('maps how the dashboard ended through the one table', () => {
    expect(watchExitCode({ kind: 'ok' })).toBe(0);
    expect(watchExitCode({ kind: 'interrupted' })).toBe(130);
    expect(watchExitCode({ kind: 'ledger-error', message: 'x' })).toBe(70);
    const failed = (error: unknown) => watchExitCode({ kind: 'sync-failed', error });
    expect(failed(Object.assign(new Error('x'), { code: 'NOBURN_TIMEOUT' }))).toBe(4);
    expect(failed(Object.assign(new Error('x'), { code: 'NOBURN_FORBIDDEN' }))).toBe(3);
    expect(failed(new NoburnConfigError('x'))).toBe(2);
    expect(failed(Object.assign(new Error('x'), { code: 'NOBURN_INTERNAL' }))).toBe(70);
    expect(failed(new Error('a bug'))).toBe(70);
  });

  it('a file that is not a ledger: exit 70 with --once', async () => {
    writeFileSync(join(home, 'noburn.db'), 'not a database, just text that is long enough to not be a header');
    const out = capture();
    expect(await watchCommand({ once: true }, out)).toBe(70);
    expect(out.stdout).toContain('Cannot open the ledger');
  });
});

describe('watch --remote', () => {
  it('needs NOBURN_URL', async () => {
    await expect(watchCommand({ remote: true, once: true }, capture())).rejects.toBeInstanceOf(NoburnConfigError);
  });

  it('an unreachable server: the mirror frame with a clear message, exit 4', async () => {
    vi.stubEnv('NOBURN_URL', 'http://127.0.0.1:9');
    const mod = join(home, 'fake-sync.mjs');
    writeFileSync(
      mod,
      "export function openMirrorSync(c) { return { async sync() { const e = new Error(`connect ECONNREFUSED ${new URL(c.url).host}`); e.code = 'NOBURN_UNREACHABLE'; throw e; }, async close() {} }; }",
    );
    const out = capture();
    const code = watchExitCode(await runWatch({ config: resolveConfig(), remote: true, once: true, json: false, out, loadSync: () => import(pathToFileURL(mod).href) }));
    expect(code).toBe(4);
    expect(out.stderr).toBe('noburn watch: Server unreachable (connect ECONNREFUSED 127.0.0.1:9) · showing the local mirror\n');
    expect(out.stdout).toContain('Server unreachable (connect ECONNREFUSED 127.0.0.1:9)');
  });

  it('a build without the mirror sync says so instead of failing obscurely', async () => {
    const missing = () => import(pathToFileURL(join(home, 'nope.mjs')).href);
    const { sync } = await loadMirrorSync(resolveConfig(), missing);
    await expect(sync()).rejects.toThrow('remote sync (watch --remote) is not available in this build');
    const out = capture();
    vi.stubEnv('NOBURN_URL', 'http://127.0.0.1:9');
    const code = watchExitCode(await runWatch({ config: resolveConfig(), remote: true, once: true, json: true, out, loadSync: missing }));
    expect(code).toBe(2);
    expect(out.docs).toHaveLength(1);
  });

  it('opens the mirror sync with the config, and closes it when done', async () => {
    vi.stubEnv('NOBURN_URL', 'http://127.0.0.1:9');
    const mod = join(home, 'ok-sync.mjs');
    writeFileSync(mod, 'export let seen = null; export let closed = 0; export function openMirrorSync(c) { seen = c; return { async sync() { return 3; }, async close() { closed++; } }; }');
    const load = () => import(pathToFileURL(mod).href);
    const out = capture();
    expect(watchExitCode(await runWatch({ config: resolveConfig(), remote: true, once: true, json: true, out, loadSync: load }))).toBe(0);
    const m = (await load()) as { seen: { url: string }; closed: number };
    expect(m.seen.url).toBe('http://127.0.0.1:9');
    expect(m.closed).toBe(1);
  });

  it('the real mirror sync is what --remote loads: an unreachable server is exit 4 with a message', async () => {
    vi.stubEnv('NOBURN_URL', 'http://127.0.0.1:9');
    vi.stubEnv('NOBURN_API_KEY', 'nb_test_key');
    vi.stubEnv('NOBURN_TIMEOUT_MS', '2000');
    const out = capture();
    expect(await watchCommand({ remote: true, once: true }, out)).toBe(4);
    expect(out.stderr).toMatch(/^noburn watch: Server unreachable \(.+\) · showing the local mirror\n$/);
  });
});
