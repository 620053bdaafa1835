/**
 * Budget leases on PostgreSQL (docs/operations-postgres.md, "Budget leases"): the schema of
 * migration 8 and the PL/pgSQL functions behind PgLeasePort (lease-port.ts).
 *
 * A lease is three rows of `holds` carrying the scope's user/model/tags/provider and
 * `lease_id`, so every cap query counts them unchanged (U + C + S = G - settled):
 *   row U (`<lease>.u`): G - W, room granted but not yet approvable; expires at the lease's end;
 *   row C (`<lease>.c`): W, the approvable room (after an end: what was approved);
 *   row S (`<lease>.s`, migration 11): -settled, the estimates records have settled; expires with C.
 * G: granted, W: the durable watermark the holder may approve up to. A lease granted before
 * migration 11 has no row S: its records settle from row C (never below 0), as they did then.
 *
 * Never below 0: C + S (approved, not settled) stays >= 0. A record settles only an approval
 * whose id carries the lease's mac (only the holder can make one), once per seq, so settled <=
 * approved. While the lease lives C = W >= approved (a raise only adds to C; the holder
 * approves only below the W it knows is durable). An end (rotation, shutdown, a refused grant)
 * lowers C to W - unused = approved, never below -S as committed then. After kill -9 C stays W.
 * Rows C and S expire at the same instant (every cap query counts holds with expires_at > now),
 * so housekeeping deleting one before the other changes no sum.
 *
 * Row locks: raise and end (outside the project lock) lock C then U of one lease; writers under
 * the project lock lock C (in id order) then U (steal near a cap, the end of a run). A raise
 * holding C waits for no one but U's lock, which only a holder of C can take, so a steal
 * waiting for C waits only for that raise's commit. Row S is locked only by settlement: records under the project lock, and
 * release outside it, each taking its S rows in id order and no C or U after them (a
 * pre-migration lease's C takes S's place in that order). No holder of S waits for C or U, and
 * no holder of C or U waits for S, so there is no cycle; and a raise never waits for a record
 * batch (before migration 11 it waited on row C until the batch committed).
 *
 * Run leases (serve's /v1/leases for remote runs, migration 10): a lease with a run carries it
 * on its `leases` row and its U/C/S rows, so the run's cap and its ancestors' count them. The
 * grant (under the project lock) refuses a run whose chain is not open; a raise reads the
 * chain's status (no lock) and refuses an ended one; and the end of a run (under the project
 * lock) takes back row U of its chain's leases, locking C (in id order) then U like a raise. So
 * a raise that read the run open either commits before the end does (the end waits for its C
 * lock) or finds U gone: nothing is raised past a run's end. The end may wait there, under the
 * project lock: no holder of a row C outside that lock (raise, end of a lease, release of a
 * pre-migration lease) waits for anything but other lease rows, taken in the same orders.
 */
export const LEASE_TABLES_SQL = `
ALTER TABLE holds ADD COLUMN lease_id text;
CREATE INDEX holds_lease ON holds (project_id, lease_id) WHERE lease_id IS NOT NULL;
CREATE TABLE leases (
  id text PRIMARY KEY,
  project_id text NOT NULL,
  holder text NOT NULL,
  secret text NOT NULL,
  provider text,
  created_at bigint NOT NULL,
  ends_at bigint NOT NULL,
  settle_until bigint NOT NULL
);
CREATE INDEX leases_project ON leases (project_id, ends_at);
CREATE TABLE lease_settled (
  lease_id text NOT NULL,
  seq bigint NOT NULL,
  PRIMARY KEY (lease_id, seq)
);
`;

// 10: run leases: the lease's run (NULL: a replica's lease, which has none), found by the end of a run.
export const RUN_LEASES_SQL = `
ALTER TABLE leases ADD COLUMN run_id text;
CREATE INDEX leases_run ON leases (run_id) WHERE run_id IS NOT NULL;
`;

export const LEASE_FUNCTIONS_SQL = `
-- Grants a lease for one scope key (p_c: a check payload plus leaseId, secret, holder, want, min, w0,
-- leaseTtlMs), under the project lock, from the caps nb_decide reads (nb_caps). Granted only if the
-- room left afterwards is at least k grants (k = 4 per replica holding a live lease here, this one
-- included); the grant is a whole number of 'min' (the asking check's estimate). W starts at w0.
-- With p_c->>'runId' (a remote run's lease) the run's cap and its ancestors' bound it too, and the
-- run and its whole chain must be open: else {"refused": "run_not_found" | "run_ended"}, nothing written.
CREATE OR REPLACE FUNCTION nb_lease(p_c jsonb) RETURNS jsonb LANGUAGE plpgsql AS $fn$
DECLARE
  v_project text := p_c->>'projectId';
  v_run text := p_c->>'runId';
  v_id text := p_c->>'leaseId';
  v_now bigint := (p_c->>'now')::bigint;
  v_end bigint := v_now + (p_c->>'leaseTtlMs')::bigint;
  v_min bigint := (p_c->>'min')::bigint;
  v_caps jsonb;
  v_k jsonb;
  v_r bigint;
  v_room bigint := NULL;
  v_limit jsonb := NULL;
  v_n int;
  v_g bigint := (p_c->>'want')::bigint;
  v_w bigint;
  v_rem jsonb := '{}'::jsonb;
BEGIN
  PERFORM nb_lock_projects(ARRAY[v_project]);
  -- Housekeeping: expired lease rows (skipping any a raise holds), and leases nothing can settle any more.
  DELETE FROM holds WHERE id IN (SELECT h.id FROM holds h WHERE h.project_id = v_project AND h.lease_id IS NOT NULL
    AND h.expires_at <= v_now FOR UPDATE SKIP LOCKED);
  DELETE FROM lease_settled WHERE lease_id IN (SELECT id FROM leases WHERE project_id = v_project AND settle_until <= v_now);
  DELETE FROM leases WHERE project_id = v_project AND settle_until <= v_now;

  IF v_run IS NOT NULL THEN
    -- Idle runs of the chain end first (abandoned), as nb_decide does.
    IF p_c->>'runIdleTtlMs' IS NOT NULL THEN
      PERFORM nb_abandon_idle(v_project, v_now, (p_c->>'runIdleTtlMs')::bigint, v_run);
    END IF;
    PERFORM 1 FROM runs WHERE id = v_run AND project_id = v_project;
    IF NOT FOUND THEN RETURN jsonb_build_object('granted', 0, 'refused', 'run_not_found'); END IF;
    IF EXISTS (SELECT 1 FROM run_ancestors a JOIN runs r ON r.id = a.ancestor_id WHERE a.run_id = v_run AND r.status <> 'open') THEN
      RETURN jsonb_build_object('granted', 0, 'refused', 'run_ended');
    END IF;
  END IF;
  v_caps := nb_caps(p_c, v_run);
  FOR v_k IN SELECT x FROM jsonb_array_elements(v_caps) AS x LOOP
    v_r := (v_k->>'capNano')::bigint - (v_k->>'spentNano')::bigint - (v_k->>'heldNano')::bigint;
    IF v_room IS NULL OR v_r < v_room THEN v_room := v_r; v_limit := v_k; END IF;
  END LOOP;
  SELECT 4 * count(*) INTO v_n FROM (SELECT holder FROM leases WHERE project_id = v_project AND ends_at > v_now
    UNION SELECT p_c->>'holder') AS t;
  IF v_room IS NOT NULL THEN v_g := least(v_g, v_room / (v_n + 1)); END IF;
  v_g := (v_g / v_min) * v_min;
  IF v_g < v_min THEN
    RETURN jsonb_build_object('granted', 0, 'limit', v_limit);
  END IF;
  v_w := least(v_g, (p_c->>'w0')::bigint);
  INSERT INTO leases (id, project_id, holder, secret, provider, created_at, ends_at, settle_until, run_id)
  VALUES (v_id, v_project, p_c->>'holder', p_c->>'secret', p_c->>'provider', v_now, v_end, v_end + (p_c->>'holdTtlMs')::bigint, v_run);
  INSERT INTO holds (id, project_id, user_id, run_id, model, amount_nano, created_at, expires_at, provider, est_in_raw, tags, lease_id)
  VALUES (v_id || '.u', v_project, p_c->>'userId', v_run, p_c->>'model', v_g - v_w, v_now, v_end, p_c->>'provider', NULL, nb_tags(p_c->'tags'), v_id),
         (v_id || '.c', v_project, p_c->>'userId', v_run, p_c->>'model', v_w, v_now, v_end + (p_c->>'holdTtlMs')::bigint,
          p_c->>'provider', NULL, nb_tags(p_c->'tags'), v_id),
         (v_id || '.s', v_project, p_c->>'userId', v_run, p_c->>'model', 0, v_now, v_end + (p_c->>'holdTtlMs')::bigint,
          p_c->>'provider', NULL, nb_tags(p_c->'tags'), v_id);
  -- What is left under each cap with the lease counted (what a lease decision reports).
  FOR v_k IN SELECT x FROM jsonb_array_elements(v_caps) AS x LOOP
    v_r := (v_k->>'capNano')::bigint - (v_k->>'spentNano')::bigint - (v_k->>'heldNano')::bigint - v_g;
    v_rem := v_rem || jsonb_build_object(v_k->>'scope', least(coalesce((v_rem->>(v_k->>'scope'))::bigint, v_r), v_r));
  END LOOP;
  IF v_limit IS NOT NULL THEN
    v_limit := jsonb_set(v_limit, '{heldNano}', to_jsonb((v_limit->>'heldNano')::bigint + v_g));
  END IF;
  RETURN jsonb_build_object('granted', v_g, 'w', v_w, 'rem', v_rem, 'limit', v_limit);
END $fn$;

-- Raises a lease's W by up to p_want (never above G): moves room from row U to row C under the two
-- rows' locks only. Returns how much was moved (less than asked: U was taken back near a cap, or the
-- lease has ended), or -1 when the lease's run (or an ancestor) has ended: nothing is moved.
CREATE OR REPLACE FUNCTION nb_lease_raise(p_lease text, p_want bigint, p_now bigint) RETURNS bigint LANGUAGE plpgsql AS $fn$
DECLARE
  v_run text;
  v_c boolean;
  v_u bigint;
  v_x bigint;
BEGIN
  PERFORM 1 FROM holds WHERE id = p_lease || '.c' FOR UPDATE;
  v_c := FOUND;
  IF v_c THEN
    SELECT amount_nano INTO v_u FROM holds WHERE id = p_lease || '.u' AND expires_at > p_now FOR UPDATE;
  END IF;
  -- Read after the row locks: an end of the run that committed before them is seen here (one that
  -- commits later took U under the C lock, so it waits for this raise).
  SELECT run_id INTO v_run FROM leases WHERE id = p_lease;
  IF v_run IS NOT NULL AND EXISTS (SELECT 1 FROM run_ancestors a JOIN runs r ON r.id = a.ancestor_id
                                   WHERE a.run_id = v_run AND r.status <> 'open') THEN
    RETURN -1;
  END IF;
  IF NOT v_c OR v_u IS NULL THEN RETURN 0; END IF;
  v_x := least(v_u, p_want);
  IF v_x <= 0 THEN RETURN 0; END IF;
  UPDATE holds SET amount_nano = amount_nano - v_x WHERE id = p_lease || '.u';
  UPDATE holds SET amount_nano = amount_nano + v_x WHERE id = p_lease || '.c';
  RETURN v_x;
END $fn$;

-- Ends a lease early (rotation, shutdown, a refused grant): U goes, and W comes down to what was
-- approved (p_unused = W - approved leaves row C). Approved, unsettled estimates stay held in C + S.
-- C never goes below what row S has settled (read without its lock: S only falls, by approvals counted
-- in 'approved'), so C + S stays >= 0.
CREATE OR REPLACE FUNCTION nb_lease_end(p_lease text, p_unused bigint) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  UPDATE holds SET amount_nano = greatest(0, amount_nano - greatest(0, p_unused),
      -coalesce((SELECT s.amount_nano FROM holds s WHERE s.id = p_lease || '.s'), 0))
    WHERE id = p_lease || '.c';
  DELETE FROM holds WHERE id = p_lease || '.u';
END $fn$;

-- The end of a run (under the project lock): the leases of the run and of its descendants lose row U
-- (room granted, never approvable now), C locked first as a raise does. Approved, unsettled estimates
-- stay held in C + S until their records settle them.
CREATE OR REPLACE FUNCTION nb_run_leases_end(p_project text, p_run text) RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM 1 FROM holds WHERE id IN (SELECT l.id || '.c' FROM leases l JOIN run_ancestors d ON d.run_id = l.run_id
      WHERE d.ancestor_id = p_run AND l.project_id = p_project) ORDER BY id COLLATE "C" FOR UPDATE;
  DELETE FROM holds WHERE id IN (SELECT l.id || '.u' FROM leases l JOIN run_ancestors d ON d.run_id = l.run_id
      WHERE d.ancestor_id = p_run AND l.project_id = p_project);
END $fn$;

-- Near a cap (nb_decide, under the project lock): takes back every live lease's row U, i.e. room
-- granted but not yet approvable; the holders learn it at their next raise. A lease whose row C is
-- locked by a raise (or an end) in progress is waited for, C rows in id order: skipping it would
-- refuse a check that the room still in its U would fit. Returns whether anything was taken.
CREATE OR REPLACE FUNCTION nb_lease_steal(p_project text, p_now bigint) RETURNS boolean LANGUAGE plpgsql AS $fn$
DECLARE
  v_l text;
  v_any boolean := false;
BEGIN
  FOR v_l IN SELECT c.lease_id FROM holds c WHERE c.project_id = p_project AND c.lease_id IS NOT NULL AND c.id = c.lease_id || '.c'
      AND EXISTS (SELECT 1 FROM holds u WHERE u.id = c.lease_id || '.u' AND u.amount_nano > 0 AND u.expires_at > p_now)
      ORDER BY c.id FOR UPDATE OF c LOOP
    DELETE FROM holds WHERE id = v_l || '.u';
    v_any := v_any OR FOUND;
  END LOOP;
  RETURN v_any;
END $fn$;

-- A leased approval's reservation id split into [lease, seq, estimate, raw input (may be empty), mac], or
-- NULL when it is not one. The pattern has no bounded repeats or captures (PostgreSQL's regex engine
-- spends tens of microseconds on those); the lengths are checked apart.
CREATE OR REPLACE FUNCTION nb_lease_parts(p_res text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $fn$
  SELECT CASE WHEN p_res ~ '^L_[A-Za-z0-9_-]+\\.[0-9]+\\.[0-9]+\\.[0-9]*\\.[0-9a-f]+$' AND length(split_part(p_res, '.', 2)) <= 15
      AND length(split_part(p_res, '.', 3)) <= 15 AND length(split_part(p_res, '.', 4)) <= 15 AND length(split_part(p_res, '.', 5)) = 16
    THEN string_to_array(p_res, '.') END
$fn$;

-- Settles one approval from a lease, named by its reservation id L<lease>.<seq>.<estimate>.<raw input>.<mac>
-- (mac: the first 16 hex of md5(secret.seq.estimate.raw), so that a client cannot name an approval it
-- was not given). Once per (lease, seq): its estimate is taken off row S (a lease granted before
-- migration 11: off row C, never below 0), which returns the room to the pool. Returns the approval as
-- nb_record reads a hold, or no row (unknown, forged, settled).
CREATE OR REPLACE FUNCTION nb_lease_settle(p_project text, p_res text)
  RETURNS TABLE (r_id text, r_amount bigint, r_provider text, r_raw bigint) LANGUAGE plpgsql AS $fn$
DECLARE
  v_m text[];
  v_l record;
BEGIN
  v_m := nb_lease_parts(p_res);
  IF v_m IS NULL THEN RETURN; END IF;
  SELECT * INTO v_l FROM leases WHERE id = v_m[1] AND project_id = p_project;
  IF NOT FOUND OR left(md5(v_l.secret || '.' || v_m[2] || '.' || v_m[3] || '.' || v_m[4]), 16) <> v_m[5] THEN RETURN; END IF;
  INSERT INTO lease_settled (lease_id, seq) VALUES (v_m[1], v_m[2]::bigint) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN RETURN; END IF;
  UPDATE holds SET amount_nano = amount_nano - v_m[3]::bigint WHERE id = v_m[1] || '.s';
  IF NOT FOUND THEN
    UPDATE holds SET amount_nano = greatest(0, amount_nano - v_m[3]::bigint) WHERE id = v_m[1] || '.c';
    IF NOT FOUND THEN RETURN; END IF;
  END IF;
  RETURN QUERY SELECT p_res, v_m[3]::bigint, v_l.provider, nullif(v_m[4], '')::bigint;
END $fn$;
`;
