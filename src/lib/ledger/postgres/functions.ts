import { MAX_TOKENS } from '../../validate.js';
import { LEASE_FUNCTIONS_SQL } from './lease-functions.js';
import { RECORD_FUNCTIONS_SQL } from './record-functions.js';

/**
 * The decision and settlement logic of the PostgreSQL store, as PL/pgSQL functions: the
 * same rules as the SQLite store's decide.ts, run server-side so that one check or one batch of
 * records is one round trip, and the per-project lock is held for one function call and
 * its commit rather than across a chain of network round trips.
 *
 * Atomicity: every function that decides or settles first locks the `projects` row of each
 * project it touches (SELECT ... FOR UPDATE, in sorted order so that two batches cannot
 * deadlock). Checks and records of one project therefore run one at a time, on every
 * replica; under READ COMMITTED each later statement in the function reads a fresh
 * snapshot, so it sees everything the previous lock holder committed. That is what makes
 * N concurrent checks approve exactly floor(cap / estimate) across replicas.
 *
 * Inputs arrive as jsonb built by the store (ids, clock and UTC window keys computed in
 * TypeScript, so there is no date logic here). Variables are prefixed v_ / p_ so that they
 * never shadow a column name.
 */
const DECIDE_SQL = `
CREATE OR REPLACE FUNCTION nb_lock_projects(p_ids text[]) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE v_id text;
BEGIN
  FOR v_id IN SELECT DISTINCT x COLLATE "C" FROM unnest(p_ids) AS x ORDER BY 1 LOOP
    PERFORM 1 FROM projects WHERE project_id = v_id FOR UPDATE;
    IF NOT FOUND THEN
      -- First use of this project: create its lock row (a concurrent creator makes us wait, then do nothing).
      INSERT INTO projects (project_id) VALUES (v_id) ON CONFLICT DO NOTHING;
      PERFORM 1 FROM projects WHERE project_id = v_id FOR UPDATE;
    END IF;
  END LOOP;
END $fn$;

-- PL/pgSQL rather than LANGUAGE sql: its statement plans are cached per connection.
CREATE OR REPLACE FUNCTION nb_add_usage(p_project text, p_scope text, p_subject text, p_windows jsonb, p_ts bigint,
    p_spent bigint, p_calls bigint, p_blocked bigint, p_unpriced bigint, p_tin bigint, p_tout bigint)
  RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO usage AS u (project_id, scope, subject, win, spent_nano, calls, blocked_calls, unpriced_calls, tokens_in, tokens_out, last_at)
  SELECT p_project, p_scope, p_subject, w.value, p_spent, p_calls, p_blocked, p_unpriced, p_tin, p_tout, p_ts
  FROM jsonb_each_text(p_windows) AS w
  ON CONFLICT (project_id, scope, subject, win) DO UPDATE SET
    spent_nano = u.spent_nano + excluded.spent_nano, calls = u.calls + excluded.calls,
    blocked_calls = u.blocked_calls + excluded.blocked_calls, unpriced_calls = u.unpriced_calls + excluded.unpriced_calls,
    tokens_in = u.tokens_in + excluded.tokens_in, tokens_out = u.tokens_out + excluded.tokens_out,
    last_at = greatest(coalesce(u.last_at, 0), excluded.last_at);
END $fn$;

-- Model globs of per-model caps (model-glob.ts): * any run of characters, ? one, the rest literal;
-- as a LIKE pattern (backslash escapes). [ and ] never occur (refused when the cap is set).
CREATE OR REPLACE FUNCTION nb_like_escape(p_s text) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  SELECT replace(replace(replace(p_s, '\\', '\\\\'), '%', '\\%'), '_', '\\_')
$fn$;
CREATE OR REPLACE FUNCTION nb_glob_like(p_glob text) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  SELECT replace(replace(nb_like_escape(p_glob), '*', '%'), '?', '_')
$fn$;

-- A call's tags (a jsonb array of sorted key=value strings, tags.ts) in their stored form: joined with ',', NULL when none.
CREATE OR REPLACE FUNCTION nb_tags(p_tags jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
  SELECT CASE WHEN jsonb_typeof(p_tags) = 'array' AND jsonb_array_length(p_tags) > 0
    THEN (SELECT string_agg(t.value, ',' ORDER BY t.i) FROM jsonb_array_elements_text(p_tags) WITH ORDINALITY AS t(value, i)) END
$fn$;

-- A blocked check: counted for the project, the user and the run (and its ancestors), logged, no hold.
-- p_exhaust: the runs of the chain up to this depth become exhausted (an ancestor's cap blocked it); NULL: the
-- run itself when the reason is run_budget_exceeded.
DROP FUNCTION IF EXISTS nb_block(jsonb, text, text, jsonb);
CREATE OR REPLACE FUNCTION nb_block(p_c jsonb, p_reason text, p_run text, p_rem jsonb, p_exhaust int DEFAULT NULL) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_project text := p_c->>'projectId';
  v_user text := p_c->>'userId';
  v_now bigint := (p_c->>'now')::bigint;
BEGIN
  PERFORM nb_add_usage(v_project, 'project', '', p_c->'windows', v_now, 0, 0, 1, 0, 0, 0);
  IF v_user IS NOT NULL THEN
    PERFORM nb_add_usage(v_project, 'user', v_user, p_c->'windows', v_now, 0, 0, 1, 0, 0, 0);
  END IF;
  -- Per-model usage (what model caps sum): the model, and the user's use of it (user U+001F model).
  PERFORM nb_add_usage(v_project, 'model', p_c->>'model', p_c->'windows', v_now, 0, 0, 1, 0, 0, 0);
  IF v_user IS NOT NULL THEN
    PERFORM nb_add_usage(v_project, 'user_model', v_user || chr(31) || (p_c->>'model'), p_c->'windows', v_now, 0, 0, 1, 0, 0, 0);
  END IF;
  -- Per-tag usage (what tag caps read), only for a check that carries tags.
  IF jsonb_typeof(p_c->'tags') = 'array' THEN
    PERFORM nb_add_usage(v_project, 'tag', t.value, p_c->'windows', v_now, 0, 0, 1, 0, 0, 0) FROM jsonb_array_elements_text(p_c->'tags') AS t;
  END IF;
  IF p_run IS NOT NULL THEN
    UPDATE runs AS t SET blocked_calls = t.blocked_calls + 1,
      exhausted = greatest(t.exhausted, CASE WHEN a.depth <= coalesce(p_exhaust, CASE WHEN p_reason = 'run_budget_exceeded' THEN 0 ELSE -1 END)
                                        THEN 1 ELSE 0 END),
      last_at = greatest(coalesce(t.last_at, 0), v_now)
    FROM run_ancestors a WHERE a.run_id = p_run AND t.id = a.ancestor_id;
  END IF;
  INSERT INTO events (project_id, ts, kind, user_id, run_id, model, amount_nano, blocked, reason, unpriced, tokens_in, tokens_out, ref, tags)
  VALUES (v_project, v_now, 'check', v_user, p_c->>'runId', p_c->>'model', (p_c->>'estimateNano')::bigint, 1, p_reason,
    CASE WHEN (p_c->>'unpriced')::boolean THEN 1 ELSE 0 END, (p_c->>'tokensIn')::bigint, (p_c->>'tokensOut')::bigint, p_c->>'decisionId',
    nb_tags(p_c->'tags'));
  RETURN jsonb_build_object('blocked', true, 'reason', p_reason, 'id', NULL, 'rem', p_rem, 'dec', p_c->>'decisionId');
END $fn$;

-- Ends, as 'abandoned', the open runs of a project (or of one run's chain, p_run) idle for p_ttl ms with
-- nothing in flight (no open hold of theirs or of a descendant's), at last activity + p_ttl. Returns how many.
CREATE OR REPLACE FUNCTION nb_abandon_idle(p_project text, p_now bigint, p_ttl bigint, p_run text) RETURNS int LANGUAGE plpgsql AS $fn$
DECLARE v_n int;
BEGIN
  WITH idle AS (
    UPDATE runs AS r SET status = 'abandoned', ended_at = coalesce(r.last_at, r.started_at) + p_ttl
    WHERE r.project_id = p_project AND r.status = 'open' AND coalesce(r.last_at, r.started_at) + p_ttl <= p_now
      AND (p_run IS NULL OR r.id IN (SELECT ancestor_id FROM run_ancestors WHERE run_id = p_run))
      AND NOT EXISTS (SELECT 1 FROM run_ancestors a JOIN holds h ON h.run_id = a.run_id WHERE a.ancestor_id = r.id AND h.expires_at > p_now)
    RETURNING r.id, r.ended_at, r.spent_nano, r.exhausted
  ), ev AS (
    INSERT INTO events (project_id, ts, kind, run_id, amount_nano, blocked, ref)
    SELECT p_project, ended_at, 'run_end', id, spent_nano, exhausted, id FROM idle ORDER BY ended_at, id
  )
  SELECT count(*) INTO v_n FROM idle;
  RETURN v_n;
END $fn$;

-- The clamp arithmetic of ledger/clamp.ts, in exact numeric: the largest output whose hold
-- ceil((tin * pin + out * pout) / 1e6) fits p_room.
CREATE OR REPLACE FUNCTION nb_max_out(p_room bigint, p_tin bigint, p_pin bigint, p_pout bigint) RETURNS bigint LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE v_left numeric;
BEGIN
  IF p_room <= 0 THEN RETURN 0; END IF;
  v_left := p_room::numeric * 1000000 - p_tin::numeric * p_pin;
  IF v_left < 0 THEN RETURN 0; END IF;
  IF p_pout = 0 THEN RETURN ${MAX_TOKENS}; END IF;
  RETURN least(floor(v_left / p_pout), ${MAX_TOKENS})::bigint;
END $fn$;

CREATE OR REPLACE FUNCTION nb_hold(p_tin bigint, p_tout bigint, p_pin bigint, p_pout bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $fn$
  SELECT floor((p_tin::numeric * p_pin + p_tout::numeric * p_pout + 999999) / 1000000)::bigint
$fn$;

-- Every cap that applies to a check (p_c as nb_decide reads it; p_run its run, NULL for none), with
-- its spend and open holds: [{scope, capNano, spentNano, heldNano[, depth]}]. Read under the
-- project lock by nb_decide and by nb_lease (lease-functions.ts), so both see the same caps.
CREATE OR REPLACE FUNCTION nb_caps(p_c jsonb, p_run text) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_project text := p_c->>'projectId';
  v_user text := p_c->>'userId';
  v_now bigint := (p_c->>'now')::bigint;
  v_windows jsonb := p_c->'windows';
  v_found_run text := p_run;
  v_caps jsonb := '[]'::jsonb;
  v_cap bigint;
  v_period text;
  v_anc record;
  v_spent bigint;
  v_held bigint;
  v_mb record;
  v_glob text;
  v_pat text;
  v_tag text;
BEGIN
  -- Every cap that applies, read once under the project lock.
  SELECT cap_nano, period INTO v_cap, v_period FROM budgets WHERE project_id = v_project AND scope = 'project' AND subject = '';
  IF FOUND THEN
    v_spent := coalesce((SELECT spent_nano FROM usage WHERE project_id = v_project AND scope = 'project' AND subject = ''
                          AND win = v_windows->>v_period), 0);
    v_held := (SELECT coalesce(sum(amount_nano), 0)::bigint FROM holds WHERE project_id = v_project AND expires_at > v_now);
    v_caps := v_caps || jsonb_build_array(jsonb_build_object('scope', 'project', 'capNano', v_cap, 'spentNano', v_spent, 'heldNano', v_held));
  END IF;

  IF v_user IS NOT NULL THEN
    -- The user's own cap wins over the default one.
    SELECT cap_nano, period INTO v_cap, v_period FROM budgets WHERE project_id = v_project AND scope = 'user' AND subject = v_user;
    IF NOT FOUND THEN
      SELECT cap_nano, period INTO v_cap, v_period FROM budgets WHERE project_id = v_project AND scope = 'default_user' AND subject = '';
    END IF;
    IF FOUND THEN
      v_spent := coalesce((SELECT spent_nano FROM usage WHERE project_id = v_project AND scope = 'user' AND subject = v_user
                            AND win = v_windows->>v_period), 0);
      v_held := (SELECT coalesce(sum(amount_nano), 0)::bigint FROM holds WHERE project_id = v_project AND user_id = v_user AND expires_at > v_now);
      v_caps := v_caps || jsonb_build_array(jsonb_build_object('scope', 'user', 'capNano', v_cap, 'spentNano', v_spent, 'heldNano', v_held));
    END IF;
  END IF;

  -- The per-model caps whose glob matches the call's model: the project's, then this user's own
  -- (subject user U+001F glob), in the order the SQLite store reads them (scope, subject; binary).
  FOR v_mb IN SELECT b.scope, b.subject, b.cap_nano, b.period FROM budgets b WHERE b.project_id = v_project
      AND (b.scope = 'model' OR (v_user IS NOT NULL AND b.scope = 'user_model'
           AND b.subject COLLATE "C" >= v_user || chr(31) AND b.subject COLLATE "C" < v_user || chr(32)))
      ORDER BY b.scope COLLATE "C", b.subject COLLATE "C" LOOP
    v_glob := CASE WHEN v_mb.scope = 'model' THEN v_mb.subject ELSE substr(v_mb.subject, length(v_user) + 2) END;
    CONTINUE WHEN NOT ((p_c->>'model') LIKE nb_glob_like(v_glob));
    v_pat := CASE WHEN v_mb.scope = 'model' THEN nb_glob_like(v_glob) ELSE nb_like_escape(v_user) || chr(31) || nb_glob_like(v_glob) END;
    v_spent := (SELECT coalesce(sum(spent_nano), 0)::bigint FROM usage WHERE project_id = v_project AND scope = v_mb.scope
                AND win = v_windows->>v_mb.period AND subject LIKE v_pat);
    v_held := (SELECT coalesce(sum(amount_nano), 0)::bigint FROM holds WHERE project_id = v_project AND expires_at > v_now
               AND model LIKE nb_glob_like(v_glob) AND (v_mb.scope = 'model' OR user_id = v_user));
    v_caps := v_caps || jsonb_build_array(jsonb_build_object('scope', 'model', 'capNano', v_mb.cap_nano, 'spentNano', v_spent, 'heldNano', v_held));
  END LOOP;

  -- The caps on the call's tags (one budgets row per tag), in the call's (sorted) tag order.
  IF jsonb_typeof(p_c->'tags') = 'array' THEN
    FOR v_tag IN SELECT t.value FROM jsonb_array_elements_text(p_c->'tags') WITH ORDINALITY AS t(value, i) ORDER BY t.i LOOP
      SELECT cap_nano, period INTO v_cap, v_period FROM budgets WHERE project_id = v_project AND scope = 'tag' AND subject = v_tag;
      CONTINUE WHEN NOT FOUND;
      v_spent := coalesce((SELECT spent_nano FROM usage WHERE project_id = v_project AND scope = 'tag' AND subject = v_tag
                            AND win = v_windows->>v_period), 0);
      v_held := (SELECT coalesce(sum(amount_nano), 0)::bigint FROM holds WHERE project_id = v_project AND tags IS NOT NULL
                 AND expires_at > v_now AND strpos(',' || tags || ',', ',' || v_tag || ',') > 0);
      v_caps := v_caps || jsonb_build_array(jsonb_build_object('scope', 'tag', 'capNano', v_cap, 'spentNano', v_spent, 'heldNano', v_held));
    END LOOP;
  END IF;

  -- The run's cap and every ancestor's (nearest first): a nested run's holds and spend count in each.
  IF v_found_run IS NOT NULL THEN
    FOR v_anc IN SELECT r.id, r.cap_nano, r.spent_nano, a.depth FROM run_ancestors a JOIN runs r ON r.id = a.ancestor_id
                 WHERE a.run_id = v_found_run AND r.cap_nano IS NOT NULL ORDER BY a.depth LOOP
      v_held := (SELECT coalesce(sum(h.amount_nano), 0)::bigint FROM run_ancestors d JOIN holds h ON h.run_id = d.run_id
                 WHERE d.ancestor_id = v_anc.id AND h.expires_at > v_now);
      v_caps := v_caps || jsonb_build_array(jsonb_build_object('scope', 'run', 'capNano', v_anc.cap_nano, 'spentNano', v_anc.spent_nano,
        'heldNano', v_held, 'depth', v_anc.depth));
    END LOOP;
  END IF;

  RETURN v_caps;
END $fn$;

CREATE OR REPLACE FUNCTION nb_decide(p_c jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_project text := p_c->>'projectId';
  v_user text := p_c->>'userId';
  v_run_id text := p_c->>'runId';
  v_e bigint := (p_c->>'estimateNano')::bigint;
  v_tin bigint := (p_c->>'tokensIn')::bigint;
  v_tout bigint := (p_c->>'tokensOut')::bigint;
  v_now bigint := (p_c->>'now')::bigint;
  v_priced boolean := jsonb_typeof(p_c->'prices') = 'object' AND NOT (p_c->>'unpriced')::boolean;
  v_pin bigint;
  v_pout bigint;
  v_run runs%ROWTYPE;
  v_found_run text;
  v_reason text;
  v_rem jsonb := '{}'::jsonb;
  v_caps jsonb;
  v_exhaust int;
  v_k jsonb;
  v_limit jsonb := NULL;
  v_room bigint;
  v_max bigint := NULL;
  v_clamped boolean := false;
  v_floor bigint;
BEGIN
  -- Expired lease rows are purged by nb_lease (they may be row-locked by their holder's W raise).
  DELETE FROM holds WHERE project_id = v_project AND expires_at <= v_now AND lease_id IS NULL;
  IF v_run_id IS NOT NULL THEN
    -- Idle runs of the chain end first (abandoned); the UPDATE runs only when one is due.
    IF p_c->>'runIdleTtlMs' IS NOT NULL AND EXISTS (SELECT 1 FROM run_ancestors a JOIN runs r ON r.id = a.ancestor_id
         WHERE a.run_id = v_run_id AND r.status = 'open' AND coalesce(r.last_at, r.started_at) + (p_c->>'runIdleTtlMs')::bigint <= v_now) THEN
      PERFORM nb_abandon_idle(v_project, v_now, (p_c->>'runIdleTtlMs')::bigint, v_run_id);
    END IF;
    SELECT * INTO v_run FROM runs WHERE id = v_run_id AND project_id = v_project;
    IF NOT FOUND THEN RETURN nb_block(p_c, 'run_not_found', NULL, v_rem); END IF;
    v_found_run := v_run.id;
    -- A run is usable only while it and every ancestor are open.
    IF v_run.status <> 'open' OR EXISTS (SELECT 1 FROM run_ancestors a JOIN runs r ON r.id = a.ancestor_id
                                         WHERE a.run_id = v_found_run AND r.status <> 'open') THEN
      RETURN nb_block(p_c, 'run_ended', v_found_run, v_rem);
    END IF;
  END IF;
  IF p_c->>'forceBlock' IS NOT NULL THEN RETURN nb_block(p_c, p_c->>'forceBlock', v_found_run, v_rem); END IF;

  v_caps := nb_caps(p_c, v_found_run);
  -- Near a cap, room leased but not yet approvable (row U) returns to the pool first
  -- (lease-functions.ts); a ledger without leases has no such row and reads the same caps. Near a
  -- run cap only a run's lease can hold such room (a replica's lease has no run).
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(v_caps) AS x WHERE (x->>'capNano')::bigint - (x->>'spentNano')::bigint - (x->>'heldNano')::bigint < v_e
             AND (x->>'scope' <> 'run' OR EXISTS (SELECT 1 FROM leases l WHERE l.project_id = v_project AND l.ends_at > v_now
                                                  AND l.run_id IS NOT NULL)))
     AND nb_lease_steal(v_project, v_now) THEN
    v_caps := nb_caps(p_c, v_found_run);
  END IF;

  -- The tightest cap (first on ties), and the output bound to hold (see ledger/clamp.ts).
  FOR v_k IN SELECT x FROM jsonb_array_elements(v_caps) AS x LOOP
    IF v_limit IS NULL OR (v_k->>'capNano')::bigint - (v_k->>'spentNano')::bigint - (v_k->>'heldNano')::bigint
        < (v_limit->>'capNano')::bigint - (v_limit->>'spentNano')::bigint - (v_limit->>'heldNano')::bigint THEN
      v_limit := v_k;
    END IF;
  END LOOP;
  IF v_priced AND v_limit IS NOT NULL THEN
    v_pin := (p_c->'prices'->>'inNanoPerMTok')::bigint;
    v_pout := (p_c->'prices'->>'outNanoPerMTok')::bigint;
    v_room := (v_limit->>'capNano')::bigint - (v_limit->>'spentNano')::bigint - (v_limit->>'heldNano')::bigint;
    v_max := nb_max_out(v_room, v_tin, v_pin, v_pout);
    IF coalesce((p_c->>'clamp')::boolean, false) AND v_tout > v_max THEN
      v_floor := least(coalesce((p_c->>'minTokensOut')::bigint, 256), v_tout);
      IF v_max >= v_floor AND nb_hold(v_tin, v_max, v_pin, v_pout) <= v_room THEN
        v_tout := v_max;
        v_e := nb_hold(v_tin, v_max, v_pin, v_pout);
        v_clamped := true;
      END IF;
    END IF;
  END IF;

  FOR v_k IN SELECT x FROM jsonb_array_elements(v_caps) AS x LOOP
    v_room := (v_k->>'capNano')::bigint - (v_k->>'spentNano')::bigint - (v_k->>'heldNano')::bigint;
    -- Several run caps (a nested run's ancestors): 'run' in remaining is the least room.
    v_rem := v_rem || jsonb_build_object(v_k->>'scope', least(coalesce((v_rem->>(v_k->>'scope'))::bigint, v_room - v_e), v_room - v_e));
    IF v_e > v_room AND v_reason IS NULL THEN
      v_reason := (v_k->>'scope') || '_budget_exceeded';
      v_limit := v_k;
      v_exhaust := (v_k->>'depth')::int;
    END IF;
  END LOOP;

  IF v_reason IS NOT NULL THEN
    -- A blocked call takes no hold: report what is left without it.
    SELECT coalesce(jsonb_object_agg(key, greatest(0, value::text::bigint + v_e)), '{}'::jsonb) INTO v_rem FROM jsonb_each(v_rem);
    RETURN nb_block(p_c, v_reason, v_found_run, v_rem, v_exhaust) || jsonb_build_object('max', v_max, 'limit', v_limit, 'est', v_e, 'tout', v_tout, 'clamped', false);
  END IF;
  INSERT INTO holds (id, project_id, user_id, run_id, model, amount_nano, created_at, expires_at, provider, est_in_raw, tags)
  VALUES (p_c->>'reservationId', v_project, v_user, v_run_id, p_c->>'model', v_e, v_now, v_now + (p_c->>'holdTtlMs')::bigint,
    p_c->>'provider', (p_c->>'tokensInRaw')::bigint, nb_tags(p_c->'tags'));
  IF v_found_run IS NOT NULL THEN
    -- An allowed check is activity on the run and its ancestors (the idle TTL counts from the last one).
    -- To the second: a burst of checks on one run rewrites its row once per second, not once per check.
    UPDATE runs AS t SET last_at = greatest(coalesce(t.last_at, 0), v_now) FROM run_ancestors a
    WHERE a.run_id = v_found_run AND t.id = a.ancestor_id AND coalesce(t.last_at, 0) < v_now - 1000;
  END IF;
  IF v_clamped AND v_found_run IS NOT NULL THEN
    -- Clamped calls count on the run and its ancestors, as calls do.
    UPDATE runs AS t SET clamped_calls = t.clamped_calls + 1, last_at = greatest(coalesce(t.last_at, 0), v_now)
    FROM run_ancestors a WHERE a.run_id = v_found_run AND t.id = a.ancestor_id;
  END IF;
  RETURN jsonb_build_object('blocked', false, 'reason', NULL, 'id', p_c->>'reservationId', 'rem', v_rem,
    'max', v_max, 'limit', v_limit, 'est', v_e, 'tout', v_tout, 'clamped', v_clamped);
END $fn$;

-- Decides a batch of checks in order, in one transaction: the same result as one by one.
CREATE OR REPLACE FUNCTION nb_check(p_cs jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_c jsonb;
  v_out jsonb := '[]'::jsonb;
BEGIN
  PERFORM nb_lock_projects(ARRAY(SELECT x->>'projectId' FROM jsonb_array_elements(p_cs) AS x));
  FOR v_c IN SELECT x FROM jsonb_array_elements(p_cs) WITH ORDINALITY AS t(x, i) ORDER BY i LOOP
    v_out := v_out || jsonb_build_array(nb_decide(v_c));
  END LOOP;
  RETURN v_out;
END $fn$;

-- Group commit over checks and records: the ops of a window (each {"c": check} or {"r": [records]}),
-- applied in order in one transaction after locking every project they touch. The same
-- result as one call of nb_check / nb_record per op, in the same order.
CREATE OR REPLACE FUNCTION nb_apply(p_ops jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_op jsonb;
  -- A jsonb[] grows in place (appending to a jsonb array would copy it every time).
  v_out jsonb[] := '{}';
BEGIN
  PERFORM nb_lock_projects(ARRAY(
    SELECT x->'c'->>'projectId' FROM jsonb_array_elements(p_ops) AS x WHERE x ? 'c'
    UNION ALL
    SELECT r->>'projectId' FROM jsonb_array_elements(p_ops) AS x, jsonb_array_elements(x->'r') AS r WHERE x ? 'r'));
  FOR v_op IN SELECT x FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS t(x, i) ORDER BY i LOOP
    IF v_op ? 'c' THEN
      v_out := v_out || nb_decide(v_op->'c');
    ELSE
      v_out := v_out || nb_record(v_op->'r');
    END IF;
  END LOOP;
  RETURN to_jsonb(v_out);
END $fn$;
`;

/** Every function of the store, (re)created by each migration that changes what they read. */
export const FUNCTIONS_SQL = DECIDE_SQL + RECORD_FUNCTIONS_SQL + LEASE_FUNCTIONS_SQL;
