import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { NoburnGuard } from '../../src/lib/guard.js';
import type { GuardOptions } from '../../src/lib/guard.js';
import { TEST_PRICES } from '../server/helpers.js';

// Every client home is removed after the test file that made it (tests clean up their temp folders).
const homes: string[] = [];
afterAll(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

/** A client home of its own and a guard in remote mode, isolated from the process environment. */
export function clientHome(): string {
  const h = mkdtempSync(join(tmpdir(), 'noburn-client-'));
  homes.push(h);
  return h;
}

export function remoteGuard(url: string, apiKey: string, home: string, opts: GuardOptions = {}): NoburnGuard {
  return new NoburnGuard({ home, url, apiKey, timeoutMs: 1000, prices: TEST_PRICES.prices, env: {}, ...opts });
}

/** Reads one value from a SQLite file (a fresh read-only connection each time). */
export function sql<T>(path: string, query: string, ...args: unknown[]): T {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(query).get(...args) as T;
  } finally {
    db.close();
  }
}

export function sqlAll<T>(path: string, query: string, ...args: unknown[]): T[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare(query).all(...args) as T[];
  } finally {
    db.close();
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits until fn() is true, polling; fails after timeoutMs. */
export async function until(fn: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
