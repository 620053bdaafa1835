import { nodeCrypto } from './lazy-crypto.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Short random ids with a readable prefix: run_3f9c..., res_..., dec_... (12 characters,
 * 72 random bits). They name rows and must be unique, not secret (a reservation id only
 * settles holds of its own project), so they come from Math.random, which V8 seeds from
 * the OS per process: loading node:crypto would add ~3 ms to every `noburn check`.
 * Secrets (API keys) use node:crypto.
 */
export function newId(prefix: string, chars = 12): string {
  let out = `${prefix}_`;
  for (let i = 0; i < chars; i++) out += ALPHABET[Math.floor(Math.random() * 64)];
  return out;
}

let random: ((into: Uint8Array) => Uint8Array) | undefined;
/**
 * Random bytes drawn 4 KiB at a time (256 keys): `randomFillSync` costs about 5 µs a call
 * however small the buffer, against 0.1 µs for a slice of the pool (as Node's randomUUID
 * caches its own). The keys need uniqueness, not secrecy, and the bytes are the same CSPRNG's.
 */
let pool: Uint8Array = new Uint8Array(0);
let poolAt = 0;
function random16(): Uint8Array {
  if (poolAt + 16 > pool.length) {
    random ??= nodeCrypto().randomFillSync;
    pool = random(new Uint8Array(4096));
    poolAt = 0;
  }
  const b = pool.slice(poolAt, poolAt + 16);
  poolAt += 16;
  return b;
}

/**
 * A record's default idempotency key: a UUIDv7 (RFC 9562: 48 bits of epoch ms, then 74
 * random bits from node:crypto, loaded on first use: records, never the check path). Time
 * first, so that each record's entry in the ledger's unique (project, key) index goes at
 * its end: with random (v4) keys every record of a batch dirtied its own index page, about
 * half of the pages a batch commits.
 */
export function newIdempotencyKey(ms: number = Date.now()): string {
  const b = random16();
  const t = Math.max(0, Math.min(Math.floor(ms), 2 ** 48 - 1));
  const hi = Math.floor(t / 2 ** 32);
  const lo = t % 2 ** 32;
  b[0] = hi >>> 8;
  b[1] = hi & 0xff;
  b[2] = lo >>> 24;
  b[3] = (lo >>> 16) & 0xff;
  b[4] = (lo >>> 8) & 0xff;
  b[5] = lo & 0xff;
  b[6] = ((b[6] as number) & 0x0f) | 0x70; // version 7
  b[8] = ((b[8] as number) & 0x3f) | 0x80; // variant 10
  let hex = '';
  for (const x of b) hex += (x < 16 ? '0' : '') + x.toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The same 64 characters in ASCII order, so that a string of them sorts as its value. */
const SORTED = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';

/**
 * A random id that sorts by `ms` (7 characters of the time, then 12 random ones, as newId):
 * rows keyed by it are appended at the end of their index instead of scattered across it,
 * so a commit writes a few index pages rather than one per new row (the holds' primary key:
 * with many open holds, random keys doubled the cost of a check transaction).
 */
export function newOrderedId(prefix: string, ms: number): string {
  let t = Math.max(0, Math.min(Math.floor(ms), 2 ** 42 - 1));
  let head = '';
  for (let i = 0; i < 7; i++) {
    head = (SORTED[t % 64] as string) + head;
    t = Math.floor(t / 64);
  }
  let out = `${prefix}_${head}`;
  for (let i = 0; i < 12; i++) out += ALPHABET[Math.floor(Math.random() * 64)];
  return out;
}
