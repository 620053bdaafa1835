/**
 * Two parts of `serve`'s per-check work, each beside what it replaced, in the same run
 * (tight loops in one process, rounds alternated):
 *   - a cached key's authentication (src/server/auth.ts) vs the former hit path: SHA-256 of
 *     the presented key, a Map keyed by the hash, timingSafeEqual of the hashes;
 *   - the check body's fast path (src/lib/wire/check-fast.ts) vs the zod schema.
 * Not part of `npm run bench`: it isolates what the serve figures cannot show on a busy machine.
 *
 *   npx tsx bench/serve-parts.ts [--rounds N] [--json]
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../src/lib/ledger/sqlite/sqlite-store.js';
import { fastCheckBody } from '../src/lib/wire/check-fast.js';
import { CheckBody } from '../src/lib/wire/schemas.js';
import { Authenticator } from '../src/server/auth.js';
import { createApiKey, keyIdOf } from '../src/server/keys.js';
import { emit, interleave, median, ratioFigure } from './stats.js';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, json: { type: 'boolean', default: false } } });
const ROUNDS = Number(values.rounds ?? 7);
const N = 200_000;

/** Mean µs per call of `fn` over N calls, after a warm-up. */
async function perCall(fn: () => unknown): Promise<number> {
  for (let i = 0; i < N / 10; i++) await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / N / 1000;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'noburn-bench-parts-'));
  const store = new SqliteStore(join(dir, 'keys.db'));
  try {
    const { key } = await createApiKey(store, { projectId: 'bench', role: 'app' });
    const header = `Bearer ${key}`;
    const auth = new Authenticator(store, Number.MAX_SAFE_INTEGER);
    await auth.authenticate(header);
    // The former hit path, as it was: parse, hash, look up by hash, compare hashes.
    const hex = createHash('sha256').update(key).digest('hex');
    const byHash = new Map([[hex, { hash: Buffer.from(hex, 'hex'), principal: {} }]]);
    const former = (h: string) => {
      const k = h.slice(7).trim();
      if (keyIdOf(k) === null) throw new Error('invalid');
      const x = createHash('sha256').update(k).digest('hex');
      const hash = Buffer.from(x, 'hex');
      const hit = byHash.get(x);
      if (!hit || !timingSafeEqual(hit.hash, hash)) throw new Error('miss');
      return Promise.resolve(hit.principal);
    };
    const body = JSON.parse(JSON.stringify({ model: 'gpt-4o', estimatedTokensIn: 1000, estimatedTokensOut: 300, endUserId: 'user_123' })) as unknown;
    const t = { auth: [] as number[], former: [] as number[], fast: [] as number[], zod: [] as number[] };
    await interleave(ROUNDS, {
      auth: async () => void t.auth.push(await perCall(() => auth.authenticate(header))),
      former: async () => void t.former.push(await perCall(() => former(header))),
      fast: async () => void t.fast.push(await perCall(() => fastCheckBody(body))),
      zod: async () => void t.zod.push(await perCall(() => CheckBody.parse(body))),
    });
    emit(`serve parts (${ROUNDS} alternating rounds of ${N} calls; medians)`, [
      ratioFigure('auth of a cached key', median(t.auth), 'us', 'former hit path (SHA-256 + compare)', median(t.former)),
      ratioFigure('check body: fast path', median(t.fast), 'us', 'zod CheckBody.parse', median(t.zod)),
    ]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
