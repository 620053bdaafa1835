/** `noburn serve` and `noburn keys` as real processes (the built CLI). */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { runCli, serveCli, tempHome, useDist } from '../helpers/cli.js';
import { call, checkBody } from './helpers.js';

const dist = useDist();

describe('noburn keys', () => {
  it('create prints the key alone, stores only its hash (file 0600); list and revoke', async () => {
    const home = tempHome();
    const created = await runCli(dist.cli, ['keys', 'create', '--role', 'admin', '--project', 'acme', '--label', 'ops'], { home });
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^nb_key_[\w-]+\.[\w-]{43}$/);
    expect(created.stdout).toBe(`${key}\n`);
    const db = join(home, 'noburn.db');
    expect(statSync(db).mode & 0o777).toBe(0o600);
    expect(readFileSync(db).includes(Buffer.from(key.split('.')[1] as string))).toBe(false);

    const list = await runCli(dist.cli, ['keys', 'list', '--json'], { home });
    const keys = JSON.parse(list.stdout) as { id: string; projectId: string; role: string; label: string; revokedAt: string | null }[];
    expect(keys).toEqual([expect.objectContaining({ projectId: 'acme', role: 'admin', label: 'ops', revokedAt: null })]);
    expect(list.stdout).not.toContain(key.split('.')[1]);
    expect(list.stdout).not.toMatch(/hash/);
    const id = keys[0]?.id as string;

    expect((await runCli(dist.cli, ['keys', 'revoke', id], { home })).code).toBe(0);
    const after = JSON.parse((await runCli(dist.cli, ['keys', 'list', '--json'], { home })).stdout) as { revokedAt: string | null }[];
    expect(after[0]?.revokedAt).not.toBeNull();
    expect((await runCli(dist.cli, ['keys', 'revoke', 'key_nosuchkey000'], { home })).code).toBe(5);
    expect((await runCli(dist.cli, ['keys', 'create', '--role', 'root'], { home })).code).toBe(2);
  });

  it('--store and NOBURN_STORE choose the file', async () => {
    const home = tempHome();
    const other = join(home, 'elsewhere.db');
    expect((await runCli(dist.cli, ['keys', 'create', '--store', other], { home })).code).toBe(0);
    expect(JSON.parse((await runCli(dist.cli, ['keys', 'list', '--json'], { home, env: { NOBURN_STORE: other } })).stdout)).toHaveLength(1);
    expect(JSON.parse((await runCli(dist.cli, ['keys', 'list', '--json'], { home })).stdout)).toHaveLength(0);
  });
});

describe('noburn serve', () => {
  it('serves with a key made by `keys create`, logs JSON without secrets, and on SIGTERM finishes in-flight requests and exits 0', async () => {
    const home = tempHome();
    const key = (await runCli(dist.cli, ['keys', 'create', '--project', 'p1'], { home })).stdout.trim();
    const s = await serveCli(dist.cli, home);
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(await call(s.url, 'GET', '/healthz')).toMatchObject({ status: 200, body: { ok: true } });
      expect(await call(s.url, 'POST', '/v1/check', { key, body: checkBody({ model: 'gpt-4o' }) })).toMatchObject({ status: 200, body: { blocked: false } });
      expect((await call(s.url, 'POST', '/v1/check', { key: key + 'x', body: checkBody() })).status).toBe(401);

      // A request whose body is still arriving when SIGTERM comes must be answered.
      const body = new PassThrough();
      const pending = request(s.url + '/v1/check', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
      const text = JSON.stringify(checkBody({ model: 'gpt-4o' }));
      body.write(text.slice(0, 10));
      await new Promise((r) => setTimeout(r, 200));
      s.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 200));
      body.end(text.slice(10));
      const res = await pending;
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toMatchObject({ blocked: false });
      expect(await s.exit).toBe(0);
      // New connections are refused once it has stopped.
      await expect(call(s.url, 'GET', '/healthz')).rejects.toThrow();
    } finally {
      s.child.kill('SIGKILL');
    }
    const logs = s.stderr().trim().split('\n');
    for (const l of logs) expect(() => JSON.parse(l)).not.toThrow();
    expect(logs.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(expect.arrayContaining(['listening', 'request refused', 'shutting down', 'stopped']));
    expect(s.stderr()).not.toContain(key.split('.')[1]);
  });

  it('a port in use or a bad port is a usage error (exit 2)', async () => {
    const home = tempHome();
    const s = await serveCli(dist.cli, home);
    try {
      const port = new URL(s.url).port;
      const again = await runCli(dist.cli, ['serve', '--port', port], { home, timeoutMs: 15_000 });
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/in use/);
      expect((await runCli(dist.cli, ['serve', '--port', '70000'], { home })).code).toBe(2);
    } finally {
      s.child.kill('SIGTERM');
      expect(await s.exit).toBe(0);
    }
  });
});
