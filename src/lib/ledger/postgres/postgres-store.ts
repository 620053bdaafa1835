import type { Pool, PoolClient } from 'pg';
import { NoburnNotFoundError, NoburnStoreError } from '../../errors.js';
import { assertCanEnd, assertCanNest } from '../runs.js';
import { cachedPriceOf } from '../../pricing/price-cache.js';
import type { CachedPrice, PriceRow } from '../../pricing/price-cache.js';
import type { RecordResult } from '../../types.js';
import { keyOf } from '../key-store.js';
import type { ApiKeyRow, KeyDbRow } from '../key-store.js';
import { alertRecordOf, eventColumns, eventPageSql, eventRecordOf, runRecordOf } from '../rows.js';
import { thresholdsText } from '../../alerts/thresholds.js';
import type { AlertRow, EventEntry, EventRow, RunRow } from '../rows.js';
import type * as S from '../store.js';
import { createPool, storeError } from './pool.js';
import type { PostgresStoreOptions } from './pool.js';
import { budgetKey } from '../../model-glob.js';
import { readBudgets, readHeldRun, readSpend, readUsers } from './reads.js';
import { migrate } from './schema.js';
import { checkPayload, decisionOfJson, recordPayload } from './payloads.js';
import type { DecisionJson } from './payloads.js';
import { PgLeasePort, PgRunLeasePort, leaseUrlOptions } from './lease-port.js';
import type { LeaseUrlOptions } from './lease-port.js';

export type { PostgresStoreOptions } from './pool.js';

/**
 * The ledger on PostgreSQL, so that several `noburn serve` replicas share one authority.
 * Same semantics as SqliteStore: a check (or a batch) and a batch of records are each one
 * call of a PL/pgSQL function (functions.ts) that locks the project's row first, so
 * decisions are serialised per project across every replica and never overshoot.
 */
export class PostgresStore implements S.LedgerBackend {
  readonly kind = 'postgres' as const;
  private closed = false;

  private constructor(
    readonly pool: Pool,
    readonly leasePort: PgLeasePort | null,
    /** serve's /v1/leases for remote runs: always on (a run lease is asked for by its holder), with the URL's lease TTL. */
    readonly runLeases: PgRunLeasePort,
  ) {}

  /** Connects, applies migrations (safe when replicas start together) and returns the store. */
  static async connect(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    let pool: Pool;
    let lo: LeaseUrlOptions;
    try {
      lo = leaseUrlOptions(url);
      pool = createPool(lo.url, opts);
    } catch (e) {
      throw storeError(e);
    }
    try {
      await migrate(pool, opts.schema ?? null);
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw storeError(e);
    }
    return new PostgresStore(pool, lo.leases === null ? null : new PgLeasePort(pool, lo.leases.ttlMs), new PgRunLeasePort(pool, lo.ttlMs));
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new NoburnStoreError('the ledger is closed');
    try {
      return await fn();
    } catch (e) {
      throw storeError(e);
    }
  }

  /** One transaction on one connection; rolled back when fn throws. */
  private tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    return this.guard(async () => {
      const c = await this.pool.connect();
      try {
        await c.query('BEGIN');
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      } finally {
        c.release();
      }
    });
  }

  check(c: S.StoreCheck): Promise<S.StoreDecision> {
    return this.checkBatch([c]).then((ds) => ds[0] as S.StoreDecision);
  }

  checkBatch(cs: readonly S.StoreCheck[]): Promise<S.StoreDecision[]> {
    if (cs.length === 0) return Promise.resolve([]);
    return this.guard(async () => {
      const { rows } = await this.pool.query<{ d: DecisionJson[] }>('SELECT nb_check($1::jsonb) AS d', [JSON.stringify(cs.map(checkPayload))]);
      return (rows[0]?.d ?? []).map(decisionOfJson);
    });
  }

  record(rs: readonly S.StoreRecord[]): Promise<RecordResult> {
    if (rs.length === 0) return Promise.resolve({ accepted: 0, duplicates: 0 });
    return this.guard(async () => {
      const { rows } = await this.pool.query<{ r: RecordResult }>('SELECT nb_record($1::jsonb) AS r', [JSON.stringify(rs.map(recordPayload))]);
      return rows[0]?.r ?? { accepted: 0, duplicates: 0 };
    });
  }

  /** Group commit: the ops in order, one call of nb_apply (one round trip, one transaction). */
  commit(ops: readonly S.StoreOp[]): Promise<S.StoreOpResult[]> {
    const sent = ops.filter((o) => o.kind === 'check' || o.records.length > 0);
    const payload = sent.map((o) => (o.kind === 'check' ? { c: checkPayload(o.check) } : { r: o.records.map(recordPayload) }));
    return this.guard(async () => {
      const out =
        payload.length === 0
          ? []
          : ((await this.pool.query<{ d: (DecisionJson | RecordResult)[] }>('SELECT nb_apply($1::jsonb) AS d', [JSON.stringify(payload)])).rows[0]?.d ?? []);
      let k = 0;
      return ops.map((o): S.StoreOpResult => {
        if (o.kind === 'record' && o.records.length === 0) return { kind: 'record', result: { accepted: 0, duplicates: 0 } };
        const r = out[k++];
        if (r === undefined) throw new NoburnStoreError('nb_apply returned fewer results than ops');
        return o.kind === 'check' ? { kind: 'check', decision: decisionOfJson(r as DecisionJson) } : { kind: 'record', result: r as RecordResult };
      });
    });
  }

  release(projectId: string, reservationIds: readonly string[], now: number): Promise<number> {
    void now;
    if (reservationIds.length === 0) return Promise.resolve(0);
    return this.guard(async () => {
      // Never a lease's own rows by name: they are settled by their approvals' ids only.
      const { rowCount } = await this.pool.query('DELETE FROM holds WHERE project_id = $1 AND id = ANY($2::text[]) AND lease_id IS NULL', [projectId, [...reservationIds]]);
      // In id order, as records lock the leases' rows S (C for a lease from before migration 11; lease-functions.ts).
      const leased = reservationIds.filter((id) => id.startsWith('L')).sort();
      if (leased.length === 0) return rowCount ?? 0;
      // Approvals from a lease: settled once each, their estimates leave the lease (lease-functions.ts).
      const { rows } = await this.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM unnest($2::text[]) AS r(id), LATERAL nb_lease_settle($1, r.id)', [projectId, leased]);
      return (rowCount ?? 0) + (rows[0]?.n ?? 0);
    });
  }

  private async runRow(q: Pool | PoolClient, projectId: string, runId: string, what = 'run'): Promise<RunRow> {
    const { rows } = await q.query<RunRow>('SELECT * FROM runs WHERE id = $1 AND project_id = $2', [runId, projectId]);
    const r = rows[0];
    if (!r) throw new NoburnNotFoundError(`${what} not found: ${runId}`);
    return r;
  }

  /** Ends idle runs (the project's, or one run's chain) when an idle TTL is set; under the project lock. */
  private async sweepIdle(c: PoolClient, projectId: string, now: number, ttl: number | undefined, runId: string | null): Promise<void> {
    if (ttl !== undefined) await c.query('SELECT nb_abandon_idle($1, $2, $3, $4)', [projectId, now, ttl, runId]);
  }

  /** Before a read: ends the idle runs that are due, taking the project lock only when one is. */
  private async readSweep(projectId: string, now: number, ttl: number | undefined, runId: string | null): Promise<void> {
    if (ttl === undefined) return;
    const { rows } = await this.pool.query(
      `SELECT 1 FROM runs r WHERE r.project_id = $1 AND r.status = 'open' AND coalesce(r.last_at, r.started_at) + $3 <= $2
         AND ($4::text IS NULL OR r.id IN (SELECT ancestor_id FROM run_ancestors WHERE run_id = $4)) LIMIT 1`,
      [projectId, now, ttl, runId],
    );
    if (rows.length === 0) return;
    await this.tx(async (c) => {
      await c.query('SELECT nb_lock_projects(ARRAY[$1])', [projectId]);
      await this.sweepIdle(c, projectId, now, ttl, runId);
    });
  }

  /** Appends an entry to the event feed (inside the caller's transaction). */
  private async logEvent(c: PoolClient, e: EventEntry): Promise<void> {
    await c.query(
      `INSERT INTO events (project_id, ts, kind, user_id, run_id, model, amount_nano, blocked, reason, unpriced, tokens_in, tokens_out, ref, tags)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      eventColumns(e),
    );
  }

  // Runs and budgets also take the project lock: their events then get their seq in commit
  // order within the project, so a feed reader's cursor never skips one.
  startRun(r: S.StoreStartRun): Promise<S.RunRecord> {
    return this.tx(async (c) => {
      await c.query('SELECT nb_lock_projects(ARRAY[$1])', [r.projectId]);
      const parent = r.parentRunId ?? null;
      if (parent !== null) {
        await this.sweepIdle(c, r.projectId, r.now, r.runIdleTtlMs, parent);
        const p = await this.runRow(c, r.projectId, parent, 'parent run');
        const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM run_ancestors WHERE run_id = $1', [parent]);
        assertCanNest(parent, p.status, rows[0]?.n ?? 0);
      }
      await c.query(`INSERT INTO runs (id, project_id, label, cap_nano, status, started_at, parent_id, alert_at) VALUES ($1, $2, $3, $4, 'open', $5, $6, $7)`, [
        r.runId, r.projectId, r.label, r.capNano, r.now, parent, thresholdsText(r.alertAt),
      ]);
      await c.query(
        'INSERT INTO run_ancestors SELECT $1, $1, 0 UNION ALL SELECT $1, ancestor_id, depth + 1 FROM run_ancestors WHERE run_id = $2',
        [r.runId, parent],
      );
      await this.logEvent(c, { projectId: r.projectId, ts: r.now, kind: 'run_start', runId: r.runId, amountNano: r.capNano ?? 0, ref: r.runId });
      return runRecordOf(await this.runRow(c, r.projectId, r.runId), 0);
    });
  }

  endRun(projectId: string, runId: string, now: number, runIdleTtlMs?: number): Promise<S.RunRecord> {
    return this.tx(async (c) => {
      await c.query('SELECT nb_lock_projects(ARRAY[$1])', [projectId]);
      await this.sweepIdle(c, projectId, now, runIdleTtlMs, runId);
      const before = await this.runRow(c, projectId, runId);
      assertCanEnd(runId, before.status);
      await c.query(`UPDATE runs SET status = 'ended', ended_at = $1 WHERE id = $2 AND status = 'open'`, [now, runId]);
      // Its open descendants end with it (their checks would be refused from now on anyway).
      const { rows: ended } = await c.query<{ id: string; spent_nano: number; exhausted: number }>(
        `UPDATE runs SET status = 'ended', ended_at = $1 WHERE status = 'open'
           AND id IN (SELECT run_id FROM run_ancestors WHERE ancestor_id = $2 AND depth > 0) RETURNING id, spent_nano, exhausted`,
        [now, runId],
      );
      // Its leases' and its descendants' unapprovable room returns now: no raise can follow the end (lease-functions.ts).
      await c.query('SELECT nb_run_leases_end($1, $2)', [projectId, runId]);
      for (const d of ended.sort((x, y) => (x.id < y.id ? -1 : 1))) {
        await this.logEvent(c, { projectId, ts: now, kind: 'run_end', runId: d.id, amountNano: d.spent_nano, blocked: d.exhausted === 1, ref: d.id });
      }
      const after = await this.runRow(c, projectId, runId);
      await this.logEvent(c, { projectId, ts: now, kind: 'run_end', runId, amountNano: after.spent_nano, blocked: after.exhausted === 1, ref: runId });
      return runRecordOf(after, await readHeldRun(c, runId, now));
    });
  }

  getRun(projectId: string, runId: string, now: number, runIdleTtlMs?: number): Promise<S.RunRecord> {
    return this.guard(async () => {
      await this.readSweep(projectId, now, runIdleTtlMs, runId);
      return runRecordOf(await this.runRow(this.pool, projectId, runId), await readHeldRun(this.pool, runId, now));
    });
  }

  listRuns(projectId: string, opts: S.StoreListRuns): Promise<S.RunRecord[]> {
    return this.guard(async () => {
      await this.readSweep(projectId, opts.now, opts.runIdleTtlMs, null);
      const { rows } = await this.pool.query<RunRow & { held: number }>(
        `SELECT r.*, CASE WHEN r.status = 'open' THEN (SELECT coalesce(sum(h.amount_nano), 0)::bigint FROM run_ancestors a
           JOIN holds h ON h.run_id = a.run_id WHERE a.ancestor_id = r.id AND h.expires_at > $4) ELSE 0 END AS held
         FROM runs r WHERE r.project_id = $1
           AND ($2::text IS NULL OR (CASE WHEN $2 = 'ended' THEN r.status <> 'open' ELSE r.status = $2 END))
           AND ($5::text IS NULL OR r.parent_id = $5)
         ORDER BY (r.status = 'open') DESC, r.started_at DESC LIMIT $3`,
        [projectId, opts.status ?? null, opts.limit ?? 1000, opts.now, opts.parentRunId ?? null],
      );
      return rows.map((r) => runRecordOf(r, Number(r.held)));
    });
  }

  setBudget(b: S.StoreSetBudget): Promise<void> {
    return this.tx(async (c) => {
      await c.query('SELECT nb_lock_projects(ARRAY[$1])', [b.projectId]);
      const { scope, subject } = budgetKey(b);
      if (b.capNano === null) {
        await c.query('DELETE FROM budgets WHERE project_id = $1 AND scope = $2 AND subject = $3', [b.projectId, scope, subject]);
      } else {
        await c.query(
          // $8: the cap keeps its thresholds (none were given).
          `INSERT INTO budgets (project_id, scope, subject, cap_nano, period, updated_at, alert_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (project_id, scope, subject) DO UPDATE SET cap_nano = excluded.cap_nano, period = excluded.period, updated_at = excluded.updated_at,
             alert_at = CASE WHEN $8::boolean THEN budgets.alert_at ELSE excluded.alert_at END`,
          [b.projectId, scope, subject, b.capNano, b.period, b.now, thresholdsText(b.alertAt), b.alertAt === undefined],
        );
      }
      await this.logEvent(c, { projectId: b.projectId, ts: b.now, kind: 'budget', userId: b.userId, model: b.model ?? null, amountNano: b.capNano ?? 0, ref: `${b.scope}:${subject}:${b.period}` });
    });
  }

  getBudgets(projectId: string, now: number): Promise<S.BudgetRecord[]> {
    return this.guard(() => readBudgets(this.pool, projectId, now));
  }

  listUsers(projectId: string, opts: { now: number; limit?: number | undefined }): Promise<S.UserRecord[]> {
    return this.guard(() => readUsers(this.pool, projectId, opts.now, opts.limit ?? 1000));
  }

  spend(q: S.StoreSpendQuery): Promise<S.SpendTotals> {
    return this.guard(() => readSpend(this.pool, q));
  }

  events(projectId: string | null, afterSeq: number, limit: number, filter?: S.StoreEventFilter): Promise<S.EventRecord[]> {
    return this.guard(async () => {
      // Keyset paging: each page is one short query on (project_id, seq), no cursor held open.
      const q = eventPageSql(projectId, afterSeq, limit, filter, (n) => `$${n}`);
      const { rows } = await this.pool.query<EventRow>(q.sql, q.args);
      return rows.map(eventRecordOf);
    });
  }

  alerts(q: S.StoreAlertQuery): Promise<S.AlertRecord[]> {
    return this.guard(async () => {
      const { rows } = await this.pool.query<AlertRow>(
        `SELECT a.*, a.win AS window FROM alerts a WHERE ($1::text IS NULL OR a.project_id = $1) AND ($2::text IS NULL OR (a.scope = 'run' AND a.subject = $2))
           AND a.seq > $3 ORDER BY a.seq LIMIT $4`,
        [q.projectId, q.runId ?? null, q.afterSeq ?? 0, q.limit ?? 1000],
      );
      return rows.map(alertRecordOf);
    });
  }

  claimAlerts(projectId: string | null, now: number, leaseMs: number, limit: number): Promise<S.AlertRecord[]> {
    return this.guard(async () => {
      // SKIP LOCKED: replicas claiming at once take different alerts; the lease keeps them off after commit.
      const { rows } = await this.pool.query<AlertRow>(
        `UPDATE alerts a SET claimed_until = $1, attempts = a.attempts + 1 WHERE a.seq IN (SELECT seq FROM alerts
           WHERE delivered_at IS NULL AND next_at <= $2 AND (claimed_until IS NULL OR claimed_until <= $2)
             AND ($3::text IS NULL OR project_id = $3) ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED)
         RETURNING a.*, a.win AS window`,
        [now + leaseMs, now, projectId, limit],
      );
      return rows.map(alertRecordOf).sort((x, y) => x.seq - y.seq);
    });
  }

  settleAlerts(outcomes: readonly S.AlertOutcome[], now: number): Promise<void> {
    if (outcomes.length === 0) return Promise.resolve();
    const done = outcomes.filter((o) => o.delivered).map((o) => o.id);
    const failed = outcomes.filter((o): o is Extract<S.AlertOutcome, { delivered: false }> => !o.delivered);
    return this.guard(async () => {
      if (done.length > 0) await this.pool.query('UPDATE alerts SET delivered_at = $1, claimed_until = NULL, last_error = NULL WHERE id = ANY($2::text[])', [now, done]);
      for (const f of failed) {
        await this.pool.query('UPDATE alerts SET next_at = $1, claimed_until = NULL, last_error = $2 WHERE id = $3 AND delivered_at IS NULL', [f.retryAt, f.error.slice(0, 500), f.id]);
      }
    });
  }

  // ---- PriceCache ----

  getCachedPrice(model: string): Promise<CachedPrice | null> {
    return this.guard(async () => {
      const r = (await this.pool.query<PriceRow>('SELECT * FROM prices WHERE model = $1', [model])).rows[0];
      return r ? cachedPriceOf(r) : null;
    });
  }

  putCachedPrice(p: CachedPrice): Promise<void> {
    return this.guard(async () => {
      await this.pool.query(
        `INSERT INTO prices (model, input_nano_per_mtok, output_nano_per_mtok, cache_read_nano_per_mtok, cache_write_nano_per_mtok, source, matched, data_version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (model) DO UPDATE SET input_nano_per_mtok = excluded.input_nano_per_mtok, output_nano_per_mtok = excluded.output_nano_per_mtok,
           cache_read_nano_per_mtok = excluded.cache_read_nano_per_mtok, cache_write_nano_per_mtok = excluded.cache_write_nano_per_mtok,
           source = excluded.source, matched = excluded.matched, data_version = excluded.data_version`,
        [p.model, p.inputNanoPerMTok, p.outputNanoPerMTok, p.cacheReadNanoPerMTok, p.cacheWriteNanoPerMTok, p.source, p.matched, p.dataVersion],
      );
    });
  }

  // ---- KeyStore ----

  createKey(k: ApiKeyRow): Promise<void> {
    return this.guard(async () => {
      await this.pool.query('INSERT INTO api_keys (id, project_id, role, hash, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        k.id, k.projectId, k.role, k.hash, k.label, Date.parse(k.createdAt),
      ]);
    });
  }

  listKeys(projectId: string | null): Promise<ApiKeyRow[]> {
    return this.guard(async () => {
      const { rows } =
        projectId === null
          ? await this.pool.query<KeyDbRow>('SELECT * FROM api_keys ORDER BY created_at, id COLLATE "C"')
          : await this.pool.query<KeyDbRow>('SELECT * FROM api_keys WHERE project_id = $1 ORDER BY created_at, id COLLATE "C"', [projectId]);
      return rows.map(keyOf);
    });
  }

  revokeKey(id: string, now: number): Promise<void> {
    return this.guard(async () => {
      const { rowCount } = await this.pool.query('UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2', [now, id]);
      if (rowCount === 0) throw new NoburnNotFoundError(`key not found: ${id}`);
    });
  }

  findKeyByHash(hash: string): Promise<ApiKeyRow | null> {
    return this.guard(async () => {
      const r = (await this.pool.query<KeyDbRow>('SELECT * FROM api_keys WHERE hash = $1', [hash])).rows[0];
      return r ? keyOf(r) : null;
    });
  }

  getCalibration(provider: string, model: string): Promise<S.Calibration | null> {
    return this.guard(async () => {
      const r = (
        await this.pool.query<{ provider: string; model: string; samples: number; ratio: number; max_ratio: number }>(
          'SELECT provider, model, samples, ratio, max_ratio FROM calibration WHERE provider = $1 AND model = $2',
          [provider, model],
        )
      ).rows[0];
      return r ? { provider: r.provider, model: r.model, samples: Number(r.samples), ratio: Number(r.ratio), maxRatio: Number(r.max_ratio) } : null;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
