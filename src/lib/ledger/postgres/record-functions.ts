import { MAX_RATIO, MIN_LEARN_TOKENS, MIN_RATIO } from '../calibration.js';

/**
 * The settlement side of the PostgreSQL store's PL/pgSQL functions: recording a batch
 * (nb_record) and firing the alert thresholds it reaches, in the same transaction
 * (nb_fire_alerts, nb_alert_insert). Same rules as the SQLite store's decide.ts and
 * alerts.ts; the locking and input conventions are those of functions.ts, which joins the
 * two halves into FUNCTIONS_SQL.
 */
export const RECORD_FUNCTIONS_SQL = `
-- One cap's thresholds reached by p_spent (exact: spent * 100 >= cap * t): each inserted under its
-- UNIQUE (project, scope, subject, window, threshold) key; the first transaction to reach it
-- inserts it and logs the 'alert' event, every later one finds the key taken. Returns how many fired.
CREATE OR REPLACE FUNCTION nb_alert_insert(p_project text, p_scope text, p_subject text, p_win text, p_period text, p_cap bigint,
    p_spent bigint, p_alert_at text, p_now bigint, p_user text, p_run text, p_model text) RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  v_t int;
  v_id text;
  v_n int := 0;
BEGIN
  IF p_spent <= 0 OR p_win IS NULL THEN RETURN 0; END IF;
  FOR v_t IN SELECT x::int FROM unnest(string_to_array(p_alert_at, ',')) AS x LOOP
    CONTINUE WHEN p_spent::numeric * 100 < p_cap::numeric * v_t;
    v_id := 'alr_' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 16);
    INSERT INTO alerts (id, project_id, scope, subject, win, threshold, spent_nano, cap_nano, period, fired_at, next_at)
    VALUES (v_id, p_project, p_scope, p_subject, p_win, v_t, p_spent, p_cap, p_period, p_now, p_now) ON CONFLICT DO NOTHING;
    IF FOUND THEN
      v_n := v_n + 1;
      INSERT INTO events (project_id, ts, kind, user_id, run_id, model, amount_nano, tokens_in, ref)
      VALUES (p_project, p_now, 'alert', p_user, p_run, p_model, p_spent, v_t, v_id);
    END IF;
  END LOOP;
  RETURN v_n;
END $fn$;

-- The alerts a batch of settled records reached (sqlite/alerts.ts, the same rules): for each record that
-- cost something, the caps with thresholds it counts in (project, its user's own or default cap, the model
-- caps whose glob matches, its tags' caps, its run and the run's ancestors) and their spend now. p_done:
-- nb_record's rows [project, user, run, model, ts, res, cost, tin, calls, i, windows, tags].
CREATE OR REPLACE FUNCTION nb_fire_alerts(p_done jsonb) RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE
  v_d jsonb;
  v_b record;
  v_own record;
  v_now bigint;
  v_p text;
  v_u text;
  v_m text;
  v_r text;
  v_w jsonb;
  v_win text;
  v_spent bigint;
  v_glob text;
  v_mu text;
  v_n int := 0;
BEGIN
  -- Nothing can fire when no cap of these projects has thresholds and no record is on a run.
  IF NOT EXISTS (SELECT 1 FROM budgets b WHERE b.alert_at IS NOT NULL AND b.project_id IN (SELECT x->>0 FROM jsonb_array_elements(p_done) AS x))
     AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(p_done) AS x WHERE x->>2 IS NOT NULL) THEN
    RETURN 0;
  END IF;
  SELECT max((x->>4)::bigint) INTO v_now FROM jsonb_array_elements(p_done) AS x;
  -- One record per call shape (project, user, run, model, windows, tags), the first in order: the spend
  -- read is the batch's total, so a later record of the same shape could only find its alerts fired.
  FOR v_d IN SELECT y.x FROM (SELECT DISTINCT ON (x->0, x->1, x->2, x->3, x->10, x->11) x, o FROM jsonb_array_elements(p_done) WITH ORDINALITY AS t(x, o)
      WHERE (x->>6)::bigint > 0 ORDER BY x->0, x->1, x->2, x->3, x->10, x->11, o) AS y ORDER BY y.o LOOP
    v_p := v_d->>0; v_u := v_d->>1; v_r := v_d->>2; v_m := v_d->>3; v_w := v_d->10;
    FOR v_b IN SELECT b.scope, b.subject, b.cap_nano, b.period, b.alert_at FROM budgets b
        WHERE b.project_id = v_p AND b.alert_at IS NOT NULL AND b.scope IN ('project', 'model', 'user_model', 'tag') LOOP
      v_win := v_w->>v_b.period;
      IF v_b.scope = 'tag' THEN
        CONTINUE WHEN NOT coalesce(v_d->11 ? v_b.subject, false);
        v_spent := coalesce((SELECT spent_nano FROM usage WHERE project_id = v_p AND scope = 'tag' AND subject = v_b.subject AND win = v_win), 0);
        v_n := v_n + nb_alert_insert(v_p, 'tag', v_b.subject, v_win, v_b.period, v_b.cap_nano, v_spent, v_b.alert_at, v_now, NULL, NULL, NULL);
        CONTINUE;
      END IF;
      IF v_b.scope = 'project' THEN
        v_spent := coalesce((SELECT spent_nano FROM usage WHERE project_id = v_p AND scope = 'project' AND subject = '' AND win = v_win), 0);
        v_n := v_n + nb_alert_insert(v_p, 'project', '', v_win, v_b.period, v_b.cap_nano, v_spent, v_b.alert_at, v_now, NULL, NULL, NULL);
        CONTINUE;
      END IF;
      IF v_b.scope = 'model' THEN
        v_mu := NULL;
        v_glob := v_b.subject;
      ELSE
        v_mu := split_part(v_b.subject, chr(31), 1);
        CONTINUE WHEN v_u IS NULL OR v_mu <> v_u;
        v_glob := substr(v_b.subject, length(v_mu) + 2);
      END IF;
      CONTINUE WHEN NOT (v_m LIKE nb_glob_like(v_glob));
      v_spent := (SELECT coalesce(sum(spent_nano), 0)::bigint FROM usage WHERE project_id = v_p AND scope = v_b.scope AND win = v_win
                  AND subject LIKE CASE WHEN v_mu IS NULL THEN nb_glob_like(v_glob) ELSE nb_like_escape(v_mu) || chr(31) || nb_glob_like(v_glob) END);
      v_n := v_n + nb_alert_insert(v_p, v_b.scope, v_b.subject, v_win, v_b.period, v_b.cap_nano, v_spent, v_b.alert_at, v_now, v_mu, NULL, v_glob);
    END LOOP;
    IF v_u IS NOT NULL THEN
      -- The user's own cap wins over the default one (its thresholds too, or its lack of them).
      SELECT cap_nano, period, alert_at INTO v_own FROM budgets WHERE project_id = v_p AND scope = 'user' AND subject = v_u;
      IF NOT FOUND THEN
        SELECT cap_nano, period, alert_at INTO v_own FROM budgets WHERE project_id = v_p AND scope = 'default_user' AND subject = '';
      END IF;
      IF FOUND AND v_own.alert_at IS NOT NULL THEN
        v_win := v_w->>v_own.period;
        v_spent := coalesce((SELECT spent_nano FROM usage WHERE project_id = v_p AND scope = 'user' AND subject = v_u AND win = v_win), 0);
        v_n := v_n + nb_alert_insert(v_p, 'user', v_u, v_win, v_own.period, v_own.cap_nano, v_spent, v_own.alert_at, v_now, v_u, NULL, NULL);
      END IF;
    END IF;
    IF v_r IS NOT NULL THEN
      FOR v_b IN SELECT r.id, r.cap_nano, r.spent_nano, r.alert_at FROM run_ancestors a JOIN runs r ON r.id = a.ancestor_id
          WHERE a.run_id = v_r AND r.alert_at IS NOT NULL AND r.cap_nano IS NOT NULL LOOP
        v_n := v_n + nb_alert_insert(v_p, 'run', v_b.id, 'total', 'total', v_b.cap_nano, v_b.spent_nano, v_b.alert_at, v_now, NULL, v_b.id, NULL);
      END LOOP;
    END IF;
  END LOOP;
  RETURN v_n;
END $fn$;

-- What a settled record counts on the hold it freed (p_d: nb_record's row [project, user, run, model, ts,
-- res, cost, tin, calls, ...]; p_amount, p_provider, p_raw: the hold's): an over-hold on its run and
-- ancestors (cost above the hold), and the input ratio learnt from the hold's local estimate.
CREATE OR REPLACE FUNCTION nb_count_freed(p_d jsonb, p_amount bigint, p_provider text, p_raw bigint) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_ratio float8;
BEGIN
  IF (p_d->>6)::bigint > p_amount AND p_d->>2 IS NOT NULL THEN
    UPDATE runs AS t SET over_holds = t.over_holds + 1 FROM run_ancestors a
    WHERE a.run_id = p_d->>2 AND t.id = a.ancestor_id AND t.project_id = p_d->>0;
  END IF;
  IF p_raw IS NOT NULL AND p_raw >= ${MIN_LEARN_TOKENS} AND (p_d->>7)::bigint > 0 THEN
    v_ratio := (p_d->>7)::float8 / p_raw;
    IF v_ratio >= ${MIN_RATIO} AND v_ratio <= ${MAX_RATIO} THEN
      INSERT INTO calibration AS c (provider, model, samples, ratio, max_ratio, updated_at)
      VALUES (coalesce(p_provider, ''), p_d->>3, 1, v_ratio, v_ratio, (p_d->>4)::bigint)
      ON CONFLICT (provider, model) DO UPDATE SET samples = c.samples + 1,
        ratio = c.ratio + (excluded.ratio - c.ratio) / least(c.samples + 1, 20),
        max_ratio = greatest(c.max_ratio, excluded.ratio), updated_at = excluded.updated_at;
    END IF;
  END IF;
END $fn$;

-- Frees the hold of one record (p_h as nb_record's rows; a duplicate has only project, res and i): the one
-- named, else the oldest open one for the same call shape, and counts what nb_count_freed counts.
CREATE OR REPLACE FUNCTION nb_release_one(p_h jsonb) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  v_hold record;
BEGIN
  IF p_h->>5 LIKE 'L%' THEN
    -- A check approved from a lease (lease-functions.ts): settled once, its estimate leaves the lease (row S).
    SELECT r_id AS id, r_amount AS amount_nano, r_provider AS provider, r_raw AS est_in_raw INTO v_hold
      FROM nb_lease_settle(p_h->>0, p_h->>5);
  ELSIF p_h->>5 IS NOT NULL THEN
    SELECT id, amount_nano, provider, est_in_raw INTO v_hold FROM holds WHERE id = p_h->>5 AND project_id = p_h->>0;
  ELSE
    -- Never a lease's row: its amount stands for many approvals, settled one by one by id.
    SELECT id, amount_nano, provider, est_in_raw INTO v_hold FROM holds WHERE project_id = p_h->>0 AND user_id IS NOT DISTINCT FROM p_h->>1
        AND run_id IS NOT DISTINCT FROM p_h->>2 AND model = p_h->>3 AND expires_at > (p_h->>4)::bigint AND lease_id IS NULL
      ORDER BY created_at, seq LIMIT 1;
  END IF;
  IF NOT FOUND THEN RETURN; END IF;
  IF p_h->>5 IS NULL OR p_h->>5 NOT LIKE 'L%' THEN DELETE FROM holds WHERE id = v_hold.id; END IF;
  IF (p_h->>8)::int = 1 THEN PERFORM nb_count_freed(p_h, v_hold.amount_nano, v_hold.provider, v_hold.est_in_raw); END IF;
END $fn$;

-- Settles a batch of records in order, in one transaction: the same result as one by one.
-- Records, events and summary rows are written set-wise (one statement each for the whole
-- batch: updating one summary row once per record would cost PostgreSQL a walk over all
-- its earlier versions each time); holds are then released record by record, in order.
CREATE OR REPLACE FUNCTION nb_record(p_rs jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_done jsonb;
  v_h jsonb;
  v_follow jsonb;
BEGIN
  PERFORM nb_lock_projects(ARRAY(SELECT x->>'projectId' FROM jsonb_array_elements(p_rs) AS x));

  WITH input AS (
    -- The first record of each idempotency key in the batch; the others are duplicates.
    SELECT DISTINCT ON (x->>'projectId', x->>'idempotencyKey') t.i, x->>'projectId' AS p, x->>'idempotencyKey' AS k,
      x->>'userId' AS u, x->>'runId' AS r, x->>'model' AS m, (x->>'ts')::bigint AS ts, x->'windows' AS w,
      x->>'reservationId' AS res, (x->>'wasBlocked')::boolean AS wb, (x->>'unpriced')::boolean AS up,
      (x->>'tokensIn')::bigint AS tin, (x->>'tokensOut')::bigint AS tout,
      (x->>'cachedTokensIn')::bigint AS cin, (x->>'cacheWriteTokensIn')::bigint AS cwin, (x->>'calledAt')::bigint AS called,
      CASE WHEN jsonb_typeof(x->'tags') = 'array' THEN x->'tags' ELSE '[]'::jsonb END AS tj, CASE WHEN x->'tags' IS NULL OR x->'tags' = '[]'::jsonb THEN NULL ELSE nb_tags(x->'tags') END AS tg,
      CASE WHEN (x->>'wasBlocked')::boolean THEN 0 ELSE (x->>'costNano')::bigint END AS cost
    FROM jsonb_array_elements(p_rs) WITH ORDINALITY AS t(x, i)
    ORDER BY x->>'projectId', x->>'idempotencyKey', t.i
  ), ins AS (
    INSERT INTO records (project_id, idem_key, ts, user_id, run_id, model, tokens_in, tokens_out, cached_in, cache_write_in,
      cost_nano, unpriced, was_blocked, reservation_id, called_at, tags)
    SELECT p, k, ts, u, r, m, tin, tout, cin, cwin, cost, CASE WHEN up THEN 1 ELSE 0 END, CASE WHEN wb THEN 1 ELSE 0 END, res, called, tg
    FROM input ORDER BY i
    ON CONFLICT (project_id, idem_key) DO NOTHING
    RETURNING seq, project_id, idem_key
  ), d AS (
    -- What each accepted record adds: a blocked call costs nothing and has no tokens.
    SELECT ins.seq, input.i, input.p, input.k, input.u, input.r, input.m, input.ts, input.w, input.res, input.cost, input.tj, input.tg,
      CASE WHEN input.wb THEN 0 ELSE 1 END AS calls, CASE WHEN input.wb THEN 1 ELSE 0 END AS blocked,
      CASE WHEN input.up AND NOT input.wb THEN 1 ELSE 0 END AS unpriced,
      CASE WHEN input.wb THEN 0 ELSE input.tin END AS tin, CASE WHEN input.wb THEN 0 ELSE input.tout END AS tout
    FROM ins JOIN input ON input.p = ins.project_id AND input.k = ins.idem_key
  ), ev AS (
    INSERT INTO events (project_id, ts, kind, user_id, run_id, model, amount_nano, blocked, reason, unpriced, tokens_in, tokens_out, ref, tags)
    SELECT p, ts, 'record', u, r, m, cost, blocked, NULL, unpriced, tin, tout, k, tg FROM d ORDER BY seq
  ), uk AS (
    SELECT d.*, 'project' AS scope, '' AS subject, w.value AS win FROM d, jsonb_each_text(d.w) AS w
    UNION ALL
    SELECT d.*, 'user', d.u, w.value FROM d, jsonb_each_text(d.w) AS w WHERE d.u IS NOT NULL
    UNION ALL
    SELECT d.*, 'model', d.m, w.value FROM d, jsonb_each_text(d.w) AS w
    UNION ALL
    SELECT d.*, 'user_model', d.u || chr(31) || d.m, w.value FROM d, jsonb_each_text(d.w) AS w WHERE d.u IS NOT NULL
    UNION ALL
    -- Tag rows only for the records that carry tags.
    SELECT d.*, 'tag', t.value, w.value FROM d, jsonb_array_elements_text(d.tj) AS t, jsonb_each_text(d.w) AS w
  ), us AS (
    INSERT INTO usage AS t (project_id, scope, subject, win, spent_nano, calls, blocked_calls, unpriced_calls, tokens_in, tokens_out, last_at)
    SELECT p, scope, subject, win, sum(cost), sum(calls), sum(blocked), sum(unpriced), sum(tin), sum(tout), max(ts)
    FROM uk GROUP BY p, scope, subject, win
    ON CONFLICT (project_id, scope, subject, win) DO UPDATE SET
      spent_nano = t.spent_nano + excluded.spent_nano, calls = t.calls + excluded.calls,
      blocked_calls = t.blocked_calls + excluded.blocked_calls, unpriced_calls = t.unpriced_calls + excluded.unpriced_calls,
      tokens_in = t.tokens_in + excluded.tokens_in, tokens_out = t.tokens_out + excluded.tokens_out,
      last_at = greatest(coalesce(t.last_at, 0), excluded.last_at)
  ), ru AS (
    UPDATE runs AS t SET spent_nano = t.spent_nano + a.cost, calls = t.calls + a.calls, blocked_calls = t.blocked_calls + a.blocked,
      unpriced_calls = t.unpriced_calls + a.unpriced, last_at = greatest(coalesce(t.last_at, 0), a.ts)
    -- A record on a nested run adds to the run and to every ancestor.
    FROM (SELECT d.p, an.ancestor_id AS r, sum(d.cost) AS cost, sum(d.calls) AS calls, sum(d.blocked) AS blocked,
            sum(d.unpriced) AS unpriced, max(d.ts) AS ts
          FROM d JOIN run_ancestors an ON an.run_id = d.r WHERE d.r IS NOT NULL GROUP BY d.p, an.ancestor_id) AS a
    WHERE t.id = a.r AND t.project_id = a.p
  )
  SELECT coalesce(jsonb_agg(jsonb_build_array(p, u, r, m, ts, res, cost, tin, calls, i, w, tj) ORDER BY seq), '[]'::jsonb) INTO v_done FROM d;

  -- The thresholds these records reached fire now, in this transaction (after the usage rows above).
  PERFORM nb_fire_alerts(v_done);

  -- Release the holds. A duplicate (its key already recorded, or repeated in the batch) counts nothing
  -- but frees the hold it names: its own, from a retry that checked again.
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(v_done) AS dn(x) WHERE dn.x->>5 IS NULL) THEN
    -- A record naming no hold takes the oldest open one of its call shape, so the order of the batch
    -- matters: one record at a time (nb_release_one), in record order.
    FOR v_h IN
      SELECT coalesce(dn.x, jsonb_build_array(t.x->>'projectId', NULL, NULL, NULL, NULL, t.x->>'reservationId', NULL, NULL, NULL, t.i))
      FROM jsonb_array_elements(p_rs) WITH ORDINALITY AS t(x, i)
      LEFT JOIN jsonb_array_elements(v_done) AS dn(x) ON (dn.x->>9)::bigint = t.i
      WHERE dn.x IS NOT NULL OR t.x->>'reservationId' IS NOT NULL
      ORDER BY t.i
    LOOP
      PERFORM nb_release_one(v_h);
    END LOOP;
  ELSE
    -- Every record names its hold: the first record naming a hold frees it (the later ones find it
    -- gone, as one by one), so they are freed set-wise: one statement for the ordinary holds, one
    -- for the approvals from leases (each lease's row S once, by the sum of its settled estimates;
    -- row C for a lease granted before migration 11, which has no row S).
    WITH named AS (
      -- (named is read several times, so the id is parsed once per record.)
      SELECT DISTINCT ON (t.x->>'projectId', t.x->>'reservationId') t.i, t.x->>'projectId' AS p, t.x->>'reservationId' AS res, dn.x AS d,
        CASE WHEN t.x->>'reservationId' LIKE 'L%' THEN nb_lease_parts(t.x->>'reservationId') END AS m
      FROM jsonb_array_elements(p_rs) WITH ORDINALITY AS t(x, i)
      LEFT JOIN jsonb_array_elements(v_done) AS dn(x) ON (dn.x->>9)::bigint = t.i
      WHERE t.x->>'reservationId' IS NOT NULL
      ORDER BY t.x->>'projectId', t.x->>'reservationId', t.i
    ), held AS (
      DELETE FROM holds h USING named n WHERE n.res NOT LIKE 'L%' AND h.id = n.res AND h.project_id = n.p
      RETURNING n.i, h.amount_nano, h.provider, h.est_in_raw
    ), lv AS (
      -- An approval of a lease of this project whose mac matches (lease-functions.ts, nb_lease_settle).
      SELECT n.i, n.m[1] AS lease, n.m[2]::bigint AS seq, n.m[3]::bigint AS est, nullif(n.m[4], '')::bigint AS raw, l.provider
      FROM named n JOIN leases l ON l.id = n.m[1] AND l.project_id = n.p
      WHERE n.m IS NOT NULL AND left(md5(l.secret || '.' || n.m[2] || '.' || n.m[3] || '.' || n.m[4]), 16) = n.m[5]
    ), ls AS (
      INSERT INTO lease_settled (lease_id, seq) SELECT lease, seq FROM lv ORDER BY lease, seq ON CONFLICT DO NOTHING RETURNING lease_id, seq
    ), lsv AS (
      -- Settled now, once per (lease, seq) (the first record naming it, if two ids name one approval).
      SELECT DISTINCT ON (lv.lease, lv.seq) lv.* FROM lv JOIN ls ON ls.lease_id = lv.lease AND ls.seq = lv.seq ORDER BY lv.lease, lv.seq, lv.i
    ), sa AS (
      SELECT lease, sum(est)::bigint AS est FROM lsv GROUP BY lease
    ), sl AS MATERIALIZED (
      -- Rows S locked in id order, as release takes them (lease-functions.ts, the lock order).
      SELECT h.id FROM holds h WHERE h.id IN (SELECT lease || '.s' FROM sa) ORDER BY h.id COLLATE "C" FOR UPDATE
    ), su AS (
      UPDATE holds h SET amount_nano = h.amount_nano - sa.est FROM sa JOIN sl ON sl.id = sa.lease || '.s' WHERE h.id = sl.id
      RETURNING sa.lease
    ), cu AS (
      -- A lease granted before migration 11 (no row S): row C, never below 0.
      UPDATE holds h SET amount_nano = greatest(0, h.amount_nano - sa.est) FROM sa
      WHERE h.id = sa.lease || '.c' AND NOT EXISTS (SELECT 1 FROM holds x WHERE x.id = sa.lease || '.s')
      RETURNING sa.lease
    ), settled AS (
      SELECT lease FROM su UNION ALL SELECT lease FROM cu
    ), freed AS (
      SELECT held.i, held.amount_nano AS amount, held.provider, held.est_in_raw AS raw FROM held
      UNION ALL
      SELECT lsv.i, lsv.est, lsv.provider, lsv.raw FROM lsv JOIN settled ON settled.lease = lsv.lease
    )
    -- What is left to do one by one: over-holds of runs and input calibration (rare), in record order.
    SELECT coalesce(jsonb_agg(jsonb_build_array(n.d, f.amount, f.provider, f.raw) ORDER BY n.i), '[]'::jsonb) INTO v_follow
    FROM freed f JOIN named n ON n.i = f.i
    WHERE n.d IS NOT NULL AND (n.d->>8)::int = 1 AND (n.d->>2 IS NOT NULL OR f.raw IS NOT NULL);
    FOR v_h IN SELECT x FROM jsonb_array_elements(v_follow) AS x LOOP
      PERFORM nb_count_freed(v_h->0, (v_h->>1)::bigint, v_h->>2, (v_h->>3)::bigint);
    END LOOP;
  END IF;

  RETURN jsonb_build_object('accepted', jsonb_array_length(v_done), 'duplicates', jsonb_array_length(p_rs) - jsonb_array_length(v_done));
END $fn$;
`;
