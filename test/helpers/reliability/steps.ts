/**
 * Random command sequences for the ledger property test. Steps refer to things made by
 * earlier steps (runs, reservations, idempotency keys) by a number that the runner reads
 * modulo the list that exists at that moment, so every generated sequence is valid and
 * shrinks well.
 */
import fc from 'fast-check';
import type { Period } from '../../../src/lib/periods.js';
import { MODELS } from './prices.js';

export const PROJECTS = ['pA', 'pB'] as const;
export const USERS = ['u1', 'u2', 'u3'] as const;
export const HOLD_TTL_MS = 60_000;
/** Globs of per-model caps over MODELS: several, one, every, and no model. */
export const GLOBS = ['m-*', 'm-?', 'm-a', 'm-odd', '*', 'nb-*', 'x*'] as const;
/** Tags of per-tag caps, and the (sorted) tag sets calls carry: none, one, or two keys. */
export const TAGS = ['feature=chat', 'feature=search', 'team=core'] as const;
export const TAG_SETS: readonly (readonly string[])[] = [[], [], ['feature=search'], ['feature=chat'], ['team=core'], ['feature=search', 'team=core'], ['feature=chat', 'team=core']];

/** A run named by a check or record: none, one made earlier (any project), or one that never existed. */
export type RunRef = { kind: 'none' } | { kind: 'missing' } | { kind: 'pick'; n: number };

export type Advance =
  | { kind: 'ms'; ms: number }
  /** Lands just around the expiry of the holds taken now. */
  | { kind: 'ttl'; delta: number }
  /** Lands just around the next UTC minute / hour / day / week / month boundary. */
  | { kind: 'boundary'; period: Exclude<Period, 'total'>; offset: number }
  | { kind: 'hours'; h: number };

export interface RecordItem {
  /** Settle a reservation made earlier (picked from all of them, settled or not), or none. */
  reservation: number | null;
  /** With a reservation: record the call shape of its check (else the fields below). */
  likeHold: boolean;
  user: number | null;
  run: RunRef;
  model: number;
  tokensIn: number;
  tokensOut: number;
  cachedFrac: number;
  writeFrac: number;
  costNano: number | null;
  wasBlocked: boolean;
  /** Reuse an idempotency key recorded earlier (any project), or make a new one. */
  dup: number | null;
  /** Index into TAG_SETS (ignored with likeHold: the check's tags). */
  tags: number;
}

export type Step =
  | { t: 'cap'; project: number; scope: 'project' | 'user' | 'default_user'; user: number; cap: number | null; period: Period }
  | { t: 'modelCap'; project: number; user: number | null; glob: number; cap: number | null; period: Period }
  | { t: 'tagCap'; project: number; tag: number; cap: number | null; period: Period }
  | { t: 'check'; project: number; user: number | null; run: RunRef; model: number; tokensIn: number; tokensOut: number; tags: number }
  | { t: 'record'; project: number; items: RecordItem[] }
  | { t: 'startRun'; project: number; cap: number | null }
  | { t: 'endRun'; project: number; run: RunRef }
  | { t: 'advance'; by: Advance };

const project = fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.constant(1), weight: 1 });
const user = fc.option(fc.nat(USERS.length - 1), { nil: null, freq: 4 });
const model = fc.oneof({ arbitrary: fc.nat(MODELS.length - 2), weight: 9 }, { arbitrary: fc.constant(MODELS.length - 1), weight: 1 });
/**
 * Round token counts make estimates whole multiples of ROUND_NANO (every priced model but
 * m-odd), and so do the round caps and costs below: sums then land exactly on a cap, the
 * case where "spent + held + estimate > cap" and ">=" differ.
 */
const ROUND_NANO = 50_000;
const tokens = (max: number) => fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max }), fc.constantFrom(0, 1_000, 10_000, 20_000));
const period = fc.constantFrom<Period>('minute', 'hour', 'day', 'week', 'month', 'total');
const runRef: fc.Arbitrary<RunRef> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'none' as const }), weight: 3 },
  { arbitrary: fc.nat(50).map((n) => ({ kind: 'pick' as const, n })), weight: 3 },
  { arbitrary: fc.constant({ kind: 'missing' as const }), weight: 1 },
);
/** Caps from "nothing allowed" to a few dollars, so blocks and approvals both happen. */
const capNano = fc.oneof(
  { arbitrary: fc.constant(0), weight: 1 },
  { arbitrary: fc.nat(4_000).map((k) => k * ROUND_NANO), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 300_000_000 }), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 3_000_000_000 }), weight: 4 },
);

const advance: fc.Arbitrary<Advance> = fc.oneof(
  fc.integer({ min: 1, max: 10_000 }).map((ms) => ({ kind: 'ms' as const, ms })),
  fc.constantFrom(-1, 0, 1, 500).map((delta) => ({ kind: 'ttl' as const, delta })),
  fc.record({ period: fc.constantFrom('minute' as const, 'hour' as const, 'day' as const, 'week' as const, 'month' as const), offset: fc.constantFrom(-1, 0, 1) }).map((b) => ({ kind: 'boundary' as const, ...b })),
  fc.integer({ min: 1, max: 72 }).map((h) => ({ kind: 'hours' as const, h })),
);

const recordItem: fc.Arbitrary<RecordItem> = fc.record({
  reservation: fc.option(fc.nat(60), { nil: null, freq: 2 }),
  likeHold: fc.boolean(),
  user,
  run: runRef,
  model,
  tokensIn: tokens(200_000),
  tokensOut: tokens(20_000),
  cachedFrac: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
  writeFrac: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1, noNaN: true })),
  costNano: fc.option(fc.oneof(fc.integer({ min: 0, max: 1_500_000_000 }), fc.nat(2_000).map((k) => k * ROUND_NANO)), { nil: null }),
  wasBlocked: fc.oneof({ arbitrary: fc.constant(false), weight: 5 }, { arbitrary: fc.constant(true), weight: 1 }),
  dup: fc.option(fc.nat(60), { nil: null, freq: 3 }),
  tags: fc.nat(TAG_SETS.length - 1),
});

export const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('cap' as const), project, scope: fc.constantFrom('project' as const, 'user' as const, 'default_user' as const), user: fc.nat(USERS.length - 1), cap: fc.option(capNano, { nil: null, freq: 6 }), period }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('modelCap' as const), project, user: fc.option(fc.nat(USERS.length - 1), { nil: null }), glob: fc.nat(GLOBS.length - 1), cap: fc.option(capNano, { nil: null, freq: 6 }), period }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('tagCap' as const), project, tag: fc.nat(TAGS.length - 1), cap: fc.option(capNano, { nil: null, freq: 6 }), period }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('check' as const), project, user, run: runRef, model, tokensIn: tokens(200_000), tokensOut: tokens(20_000), tags: fc.nat(TAG_SETS.length - 1) }), weight: 6 },
  { arbitrary: fc.record({ t: fc.constant('record' as const), project, items: fc.array(recordItem, { minLength: 1, maxLength: 3 }) }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('startRun' as const), project, cap: fc.option(capNano, { nil: null, freq: 4 }) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('endRun' as const), project, run: runRef }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('advance' as const), by: advance }), weight: 3 },
);

/** A start instant somewhere in 2024-2031 (UTC), so windows cross years, leap days and DST-free month ends. */
export const startClock = fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2031, 0, 1) });

export function pickFrom<T>(xs: readonly T[], n: number): T | undefined {
  return xs.length === 0 ? undefined : xs[n % xs.length];
}
