/**
 * The bin (dist/cli.cjs) runs the CLI bundle with a V8 code cache kept beside it
 * (src/cli/code-cache.ts). The cache never changes what a command does: a missing, damaged
 * or foreign one is ignored and rewritten, and an install folder that cannot be written
 * runs without one. The published package leaves the cache out (package.json "files").
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { beforeEach, describe, expect, it } from 'vitest';
import { cleanEnv, tempHome, useDist, writeConfig } from '../helpers/cli.js';

const dist = useDist();
const CHECK = ['check', '--model', 'm1', '--tokens-in', '1000', '--tokens-out', '300'];
// `check` prints the hold's id on stdout and the decision on stderr.
const DECISION = 'allowed: m1, estimated $0.001600\n';

const caches = () => readdirSync(dist.dir).filter((f) => f.includes('.v8cache'));

/** Runs `check` with the built bin; as `uid` when given (root ignores folder permissions). */
function check(uid?: number): { code: number | null; stdout: string; stderr: string } {
  const home = tempHome('noburn-cache-');
  writeConfig(home, { prices: { m1: { inputPerMTok: 1, outputPerMTok: 2 } } });
  if (uid !== undefined) chownSync(home, uid, uid);
  const r = spawnSync(process.execPath, [dist.cli, ...CHECK], { encoding: 'utf8', env: cleanEnv({ NOBURN_HOME: home, HOME: home }), ...(uid !== undefined ? { uid, gid: uid } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectNormalCheck(r: ReturnType<typeof check>): void {
  expect(r.stderr).toBe(DECISION);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^res_[\w-]+\n$/);
}

/** A cache file holds the cache twice; whole when both copies are equal. */
function isWhole(file: string): boolean {
  const b = readFileSync(file);
  return b.length > 0 && b.length % 2 === 0 && b.subarray(0, b.length / 2).equals(b.subarray(b.length / 2));
}

/** The one cache file, written by a first run. */
function firstCache(): string {
  expectNormalCheck(check());
  const [name, ...more] = caches();
  expect(more).toEqual([]);
  return join(dist.dir, name as string);
}

beforeEach(() => {
  for (const f of caches()) rmSync(join(dist.dir, f));
});

describe('the code cache of the CLI bundle', () => {
  it('the first run writes it beside the bundle, for this Node and architecture; later runs use it as it is', () => {
    const file = firstCache();
    expect(file).toContain(`cli-main.cjs.`);
    expect(file).toContain(`-${process.version}-${process.arch}.v8cache`);
    expect(isWhole(file)).toBe(true);
    const before = statSync(file);
    for (let i = 0; i < 2; i++) expectNormalCheck(check());
    // Accepted, so not rewritten (a rewrite renames a new file into place: a new inode).
    const after = statSync(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  // V8 rejects a cache whose header does not match (other Node, flags, source), but does not
  // check the payload in release builds: a damaged payload crashes the process (SIGSEGV).
  const damaged: Array<[string, (good: Buffer) => Buffer]> = [
    [
      'a payload damaged in one copy',
      (good) => {
        const half = good.subarray(0, good.length / 2);
        const bad = Buffer.from(half);
        for (let i = 64; i < bad.length; i += 97) bad[i] = (bad[i] as number) ^ 0xff;
        return Buffer.concat([bad, half]);
      },
    ],
    ['cut short', (good) => good.subarray(0, Math.floor(good.length / 3))],
    ['random bytes', (good) => Buffer.from(good.map((_, i) => (i * 7919) % 251))],
    ['a cache of another script', () => {
      const other = new Script('function f() { return 42; }\nf();');
      other.runInThisContext();
      const data = other.createCachedData();
      return Buffer.concat([data, data]);
    }],
    ['empty', () => Buffer.alloc(0)],
  ];

  it.each(damaged)('a cache file that is %s is ignored: same output, and a whole cache replaces it', (_, damage) => {
    const file = firstCache();
    const bad = damage(readFileSync(file));
    writeFileSync(file, bad);
    expectNormalCheck(check());
    expect(isWhole(file)).toBe(true);
    expect(readFileSync(file).equals(bad)).toBe(false);
    expectNormalCheck(check());
  });

  it('a read-only install folder runs without a cache and leaves no file in it', () => {
    const uid = process.getuid?.() === 0 ? 65534 : undefined;
    chmodSync(dist.dir, 0o555);
    try {
      for (let i = 0; i < 2; i++) expectNormalCheck(check(uid));
      expect(caches()).toEqual([]);
    } finally {
      chmodSync(dist.dir, 0o755);
    }
  });
});
