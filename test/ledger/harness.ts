/**
 * Shared fixtures of the ledger semantic suite: a store factory per backend, an injected
 * clock, and prices set by config overrides so that every cost is known exactly.
 */
import { afterEach } from 'vitest';
import { Ledger } from '../../src/lib/ledger/ledger.js';
import type { LedgerSettings } from '../../src/lib/ledger/ledger.js';
import type { LedgerBackend } from '../../src/lib/ledger/store.js';
import type { Decision, RecordResult } from '../../src/lib/types.js';
import type { NormalizedRecord } from '../../src/lib/validate.js';
import type { Period } from '../../src/lib/periods.js';

export interface StoreHandle {
  store: LedgerBackend;
  dispose(): Promise<void>;
}
export type StoreFactory = () => Promise<StoreHandle>;

export interface SuiteOptions {
  /** How many $0.000001 records the exact-money test writes (1e6 on SQLite). */
  moneyRecords: number;
  /** Said in the test name when fewer than a million (e.g. where the million is proven). */
  moneyNote?: string;
}

/** Wednesday 2026-11-25 12:00 UTC (the ISO week starts Monday 2026-11-23). */
export const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
export const utc = (iso: string): number => Date.parse(iso);

/** test-model costs $0.001 per 1000 input tokens and $0.002 per 1000 output tokens. */
export const PRICES: LedgerSettings['prices'] = {
  'test-model': { inputPerMTok: 1, outputPerMTok: 2 },
  'other-model': { inputPerMTok: 1, outputPerMTok: 2 },
  // Cache reads at a price with a fraction of a nano-dollar per token, to see the rounding.
  'cache-model': { inputPerMTok: 3, outputPerMTok: 15, cacheReadPerMTok: 0.3001 },
};
export const UNKNOWN_MODEL = 'nb-test-unpriced-model-zz9';

export const P = 'proj_a';
export const TTL = 600_000;

export interface Env {
  ledger: Ledger;
  store: LedgerBackend;
  clock: { t: number };
  /** A ledger on the same store with other settings (same clock). */
  withSettings(s: Partial<LedgerSettings>): Ledger;
}

/** Registers cleanup and returns a function that opens a fresh store + ledger per call. */
export function useEnv(factory: StoreFactory): (s?: Partial<LedgerSettings>) => Promise<Env> {
  const open: StoreHandle[] = [];
  afterEach(async () => {
    for (const h of open.splice(0)) await h.dispose();
  });
  return async (s = {}) => {
    const h = await factory();
    open.push(h);
    const clock = { t: T0 };
    const settings = (o: Partial<LedgerSettings>): LedgerSettings => ({ prices: PRICES, fallbackPrice: null, unknownModel: 'block', holdTtlMs: TTL, ...o });
    const make = (o: Partial<LedgerSettings>) => new Ledger(h.store, settings({ ...s, ...o }), { now: () => clock.t });
    return { ledger: make({}), store: h.store, clock, withSettings: make };
  };
}

export interface CheckOpts {
  /** Input tokens of test-model: 1000 tokens = $0.001. */
  tin?: number;
  tout?: number;
  model?: string;
  user?: string | null;
  run?: string | null;
  project?: string;
}

/** A check of `milli` thousandths of a dollar on test-model (unless tin/model say otherwise). */
export function check(l: Ledger, milli: number, o: CheckOpts = {}): Promise<Decision> {
  return l.check(o.project ?? P, {
    model: o.model ?? 'test-model',
    tokensIn: o.tin ?? milli * 1000,
    tokensOut: o.tout ?? 0,
    userId: o.user ?? null,
    runId: o.run ?? null,
  });
}

let keySeq = 0;
export function rec(o: Partial<NormalizedRecord> & { usd?: number | null } = {}): NormalizedRecord {
  const { usd, ...rest } = o;
  return {
    model: 'test-model',
    tokensIn: 0,
    tokensOut: 0,
    cachedTokensIn: 0,
    cacheWriteTokensIn: 0,
    costUsd: usd === undefined ? null : usd,
    wasBlocked: false,
    userId: null,
    runId: null,
    reservationId: null,
    idempotencyKey: `key-${++keySeq}`,
    ...rest,
  };
}

export function record(l: Ledger, ...rs: NormalizedRecord[]): Promise<RecordResult> {
  return l.record(P, rs);
}

/** Sets a cap in USD: project, default_user, or the named user. */
export function cap(l: Ledger, usd: number | null, o: { user?: string; defaultUser?: boolean; period?: Period; project?: string } = {}): Promise<void> {
  const scope = o.user !== undefined ? 'user' : o.defaultUser ? 'default_user' : 'project';
  return l.setBudget(o.project ?? P, { scope, userId: o.user, capUsd: usd, period: o.period ?? 'total' });
}

/** Spent and held of the project's budget, in USD (the summary rows, not a scan). */
export async function projectBudget(l: Ledger, project = P): Promise<{ spentUsd: number; heldUsd: number }> {
  const b = (await l.getBudgets(project)).find((x) => x.scope === 'project');
  if (!b) throw new Error('no project budget set');
  return { spentUsd: b.spentUsd, heldUsd: b.heldUsd };
}

/** A deterministic pseudo-random sequence (mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
