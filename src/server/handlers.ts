import type { z } from 'zod';
import { NoburnNotFoundError, NoburnValidationError } from '../lib/errors.js';
import type { KeyStore } from '../lib/ledger/key-store.js';
import type { Ledger } from '../lib/ledger/ledger.js';
import type { BudgetScope, Decision } from '../lib/types.js';
import type { NormalizedCheck, NormalizedRecord } from '../lib/validate.js';
import { idString } from '../lib/validate.js';
import { normalizeTags } from '../lib/tags.js';
import { fastCheckBody } from '../lib/wire/check-fast.js';
import { AlertsQuery, BudgetBody, ModelBudgetBody, TagBudgetBody, CheckBody, EventsQuery, KeyBody, RecordBatchBody, ReleaseBody, RunBody, RunsQuery, SpendQuery, UsersQuery } from '../lib/wire/schemas.js';
import type { CreatedKeyResponse, RecordsResponse, ReleaseResponse, SetBudgetResponse, WhoamiResponse } from '../lib/wire/responses.js';
import type { Authenticator, Principal } from './auth.js';
import { requireAdmin } from './auth.js';
import { createApiKey, keyView } from './keys.js';
import type { Metrics } from './metrics.js';
import { decisionResponse, offlineCheck, queueRecords } from './offline.js';
import type { makeLeaseHandlers } from './lease-handlers.js';
import type { Offline } from './offline.js';

/** What every handler gets: the caller, the parsed body (if the route has one), path params and query. */
export interface Ctx {
  p: Principal;
  body: unknown;
  params: readonly string[];
  query: Record<string, string>;
}

export interface Reply {
  status: number;
  body: unknown;
}

export interface Services {
  ledger: Ledger;
  keys: KeyStore;
  auth: Authenticator;
  metrics: Metrics;
  now: () => number;
  /** A PostgreSQL replica's offline mode (offline.ts); null: store errors answer 503. */
  offline: Offline | null;
}

/** Validates with a wire schema; a violation is a 422 naming the first offending field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new NoburnValidationError(`${where}${issue?.message ?? 'invalid request'}`);
}

function param(ctx: Ctx, i: number, name: string): string {
  return idString(ctx.params[i], name);
}

/** The thresholds as the answer echoes them (sorted, distinct; absent when none were given). */
function alertsOf(alertAt: readonly number[] | undefined): { alertAt?: number[] } {
  return alertAt === undefined ? {} : { alertAt: [...new Set(alertAt)].sort((a, b) => a - b) };
}

export function makeHandlers(s: Services) {
  const { ledger } = s;

  async function setBudget(ctx: Ctx, scope: BudgetScope, userId: string | null): Promise<Reply> {
    requireAdmin(ctx.p);
    const b = parse(BudgetBody, ctx.body);
    const period = b.period ?? 'month';
    await ledger.setBudget(ctx.p.projectId, { scope, userId: userId ?? undefined, capUsd: b.capUsd, period, alertAt: b.alertAt });
    const body: SetBudgetResponse = { scope, userId, capUsd: b.capUsd, period, ...alertsOf(b.alertAt) };
    return { status: 200, body };
  }

  async function setModelBudget(ctx: Ctx): Promise<Reply> {
    requireAdmin(ctx.p);
    const b = parse(ModelBudgetBody, ctx.body);
    const period = b.period ?? 'month';
    await ledger.setBudget(ctx.p.projectId, { scope: 'model', model: b.model, userId: b.userId, capUsd: b.capUsd, period, alertAt: b.alertAt });
    const body: SetBudgetResponse = { scope: 'model', userId: b.userId ?? null, model: b.model, capUsd: b.capUsd, period, ...alertsOf(b.alertAt) };
    return { status: 200, body };
  }

  async function setTagBudget(ctx: Ctx): Promise<Reply> {
    requireAdmin(ctx.p);
    const b = parse(TagBudgetBody, ctx.body);
    const period = b.period ?? 'month';
    await ledger.setBudget(ctx.p.projectId, { scope: 'tag', tag: b.tag, capUsd: b.capUsd, period, alertAt: b.alertAt });
    const body: SetBudgetResponse = { scope: 'tag', userId: null, tag: b.tag, capUsd: b.capUsd, period, ...alertsOf(b.alertAt) };
    return { status: 200, body };
  }

  /** The database's decision; offline (offline.ts) when the replica cannot reach it. */
  async function decide(projectId: string, c: NormalizedCheck): Promise<{ d: Decision; offline: boolean }> {
    const off = s.offline;
    if (off?.link.down !== true) {
      try {
        const d = await ledger.check(projectId, c);
        off?.link.succeeded();
        return { d, offline: false };
      } catch (e) {
        if (off?.link.failed(e) !== true) throw e;
      }
    }
    return { d: offlineCheck(ledger, projectId, c), offline: true };
  }

  return {
    async check(ctx: Ctx): Promise<Reply> {
      // The common well-formed body skips zod; anything else gets zod's exact refusal.
      const b = fastCheckBody(ctx.body) ?? parse(CheckBody, ctx.body);
      const c: NormalizedCheck = {
        model: b.model,
        tokensIn: b.estimatedTokensIn,
        tokensOut: b.estimatedTokensOut,
        userId: b.endUserId ?? null,
        runId: b.runId ?? null,
        clamp: b.clamp === true,
        minTokensOut: b.minTokensOut ?? null,
        provider: b.provider ?? null,
        tokensInSource: b.tokensInSource ?? 'exact',
        tags: normalizeTags(b.tags),
      };
      const { d, offline } = await decide(ctx.p.projectId, c);
      s.metrics.decision(d.blocked, d.blockReason, d.clamped);
      const body = decisionResponse(d, offline);
      return { status: 200, body };
    },

    async records(ctx: Ctx): Promise<Reply> {
      const b = parse(RecordBatchBody, ctx.body);
      const now = s.now();
      const rs = b.records.map(
        (w): NormalizedRecord => ({
          model: w.model,
          tokensIn: w.tokensIn,
          tokensOut: w.tokensOut,
          cachedTokensIn: w.cachedTokensIn ?? 0,
          cacheWriteTokensIn: w.cacheWriteTokensIn ?? 0,
          costUsd: w.costUsd ?? null,
          wasBlocked: w.wasBlocked,
          userId: w.endUserId ?? null,
          runId: w.runId ?? null,
          reservationId: w.reservationId ?? null,
          provider: w.provider ?? null,
          idempotencyKey: w.idempotencyKey,
          tags: normalizeTags(w.tags),
        }),
      );
      // Spend is dated by this server's clock when it settles (docs/semantics.md): a record
      // delivered late (outbox) or dated by a skewed or lying client counts in the current
      // window. The client's `ts` (when it says the call happened) is kept as data.
      const calledAt = b.records.map((w) => (w.ts === null || w.ts === undefined ? null : w.ts));
      const off = s.offline;
      let body: RecordsResponse;
      if (off?.link.down === true) {
        body = await queueRecords(off, ledger, ctx.p.projectId, rs, calledAt);
      } else {
        try {
          body = await ledger.recordPriced(ctx.p.projectId, rs, calledAt);
          off?.link.succeeded();
        } catch (e) {
          // Whether or not the failed call committed, replay settles each key once.
          if (off?.link.failed(e) !== true) throw e;
          body = await queueRecords(off, ledger, ctx.p.projectId, rs, calledAt);
        }
      }
      for (const w of b.records) if (typeof w.ts === 'number') s.metrics.recordLag((now - w.ts) / 1000);
      return { status: 202, body };
    },

    async release(ctx: Ctx): Promise<Reply> {
      const b = parse(ReleaseBody, ctx.body);
      const body: ReleaseResponse = { released: await ledger.release(ctx.p.projectId, b.reservationIds) };
      return { status: 200, body };
    },

    async startRun(ctx: Ctx): Promise<Reply> {
      const b = parse(RunBody, ctx.body);
      const run = await ledger.startRun(ctx.p.projectId, { budgetCapUsd: b.budgetCapUsd ?? null, label: b.label ?? undefined, parentRunId: b.parentRunId ?? null, alertAt: b.alertAt });
      return { status: 201, body: run };
    },

    async listRuns(ctx: Ctx): Promise<Reply> {
      const q = parse(RunsQuery, ctx.query);
      return { status: 200, body: { runs: await ledger.listRuns(ctx.p.projectId, q.status, q.limit, q.parent) } };
    },

    async getRun(ctx: Ctx): Promise<Reply> {
      return { status: 200, body: await ledger.getRun(ctx.p.projectId, param(ctx, 0, 'run id')) };
    },

    async endRun(ctx: Ctx): Promise<Reply> {
      return { status: 200, body: await ledger.endRunFull(ctx.p.projectId, param(ctx, 0, 'run id')) };
    },

    async getBudgets(ctx: Ctx): Promise<Reply> {
      return { status: 200, body: { budgets: await ledger.getBudgets(ctx.p.projectId) } };
    },

    setProjectBudget: (ctx: Ctx) => setBudget(ctx, 'project', null),
    setDefaultUserBudget: (ctx: Ctx) => setBudget(ctx, 'default_user', null),
    setModelBudget,
    setTagBudget,
    setUserBudget: (ctx: Ctx) => {
      requireAdmin(ctx.p);
      return setBudget(ctx, 'user', param(ctx, 0, 'user id'));
    },

    async listUsers(ctx: Ctx): Promise<Reply> {
      const q = parse(UsersQuery, ctx.query);
      return { status: 200, body: { users: await ledger.listUsers(ctx.p.projectId, q.limit) } };
    },

    async spend(ctx: Ctx): Promise<Reply> {
      const q = parse(SpendQuery, ctx.query);
      return { status: 200, body: await ledger.spend(ctx.p.projectId, q) };
    },

    async events(ctx: Ctx): Promise<Reply> {
      const q = parse(EventsQuery, ctx.query);
      const after = q.after ?? 0;
      const limit = q.limit ?? 1000;
      const rows = await ledger.events(ctx.p.projectId, after, limit + 1, { since: q.since, until: q.until, kind: q.kind });
      const more = rows.length > limit;
      const events = more ? rows.slice(0, limit) : rows;
      const cursor = events.length > 0 ? (events[events.length - 1]?.seq ?? after) : after;
      return { status: 200, body: { events, cursor, more } };
    },

    async alerts(ctx: Ctx): Promise<Reply> {
      const q = parse(AlertsQuery, ctx.query);
      const after = q.after ?? 0;
      const alerts = await ledger.alerts(ctx.p.projectId, { runId: q.runId, afterSeq: after, limit: q.limit ?? 1000 });
      return { status: 200, body: { alerts, cursor: alerts[alerts.length - 1]?.seq ?? after } };
    },

    async price(ctx: Ctx): Promise<Reply> {
      return { status: 200, body: await ledger.price(param(ctx, 0, 'model')) };
    },

    whoami(ctx: Ctx): Promise<Reply> {
      const body: WhoamiResponse = { keyId: ctx.p.keyId, projectId: ctx.p.projectId, role: ctx.p.role };
      return Promise.resolve({ status: 200, body });
    },

    async createKey(ctx: Ctx): Promise<Reply> {
      requireAdmin(ctx.p);
      const b = parse(KeyBody, ctx.body);
      const { key, row } = await createApiKey(s.keys, { projectId: ctx.p.projectId, role: b.role ?? 'app', label: b.label ?? null, now: s.now() });
      const body: CreatedKeyResponse = { ...keyView(row), key };
      return { status: 201, body };
    },

    async listKeys(ctx: Ctx): Promise<Reply> {
      requireAdmin(ctx.p);
      return { status: 200, body: { keys: (await s.keys.listKeys(ctx.p.projectId)).map(keyView) } };
    },

    async revokeKey(ctx: Ctx): Promise<Reply> {
      requireAdmin(ctx.p);
      const id = param(ctx, 0, 'key id');
      const mine = (await s.keys.listKeys(ctx.p.projectId)).find((k) => k.id === id);
      // Another project's key is "not found": a key never learns what other projects hold.
      if (!mine) throw new NoburnNotFoundError(`key not found: ${id}`);
      if (mine.revokedAt === null) await s.keys.revokeKey(id, s.now());
      s.auth.forget(id);
      const after = (await s.keys.listKeys(ctx.p.projectId)).find((k) => k.id === id) ?? mine;
      return { status: 200, body: keyView(after) };
    },
  };
}

export type Handlers = ReturnType<typeof makeHandlers> & ReturnType<typeof makeLeaseHandlers>;
