import { createRequire } from 'node:module';
import type * as Crypto from 'node:crypto';

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

let uuid: (() => string) | undefined;

/** A v4 UUID from node:crypto, loaded on first use (records, never the check path). */
export function newIdempotencyKey(): string {
  uuid ??= (createRequire(import.meta.url)('node:crypto') as typeof Crypto).randomUUID;
  return uuid();
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
