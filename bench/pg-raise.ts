/**
 * How long a W raise of a PostgreSQL lease takes while record batches settle approvals of the
 * same lease (docs/operations-postgres.md, "Settlement": records write row S, raises rows U
 * and C). One connection delivers batches of 13 leased records back to back; another raises
 * the lease's W by one estimate at a time; the raises' latencies are reported, and how often
 * (of pg_stat_activity samples, every 2 ms, that find a raise running) the raise was waiting
 * for a row lock.
 *
 *   npx tsx bench/pg-raise.ts [--src DIR] [--ms N]
 *
 * --src: the checkout whose src/ is measured (default: this one), so that two builds' SQL
 * can be compared with the same driver. PostgreSQL: NOBURN_BENCH_PG, else NOBURN_TEST_PG,
 * else postgres://postgres@127.0.0.1:5432/test; a schema of its own, dropped at the end.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
const ROOT = arg('--src') ?? new URL('..', import.meta.url).pathname;
const MS = Number(arg('--ms') ?? 5000);
const PG = process.env['NOBURN_BENCH_PG'] ?? process.env['NOBURN_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const E = 1_000_000;
const BATCH = 13;

interface Store {
  leasePort: { grant(r: unknown): Promise<{ leaseId: string; secret: string } | null>; raise(id: string, want: number, now: number): Promise<number> } | null;
  setBudget(b: unknown): Promise<unknown>;
  record(rs: unknown[]): Promise<unknown>;
  close(): Promise<void>;
}

const pct = (xs: number[], p: number): number => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] ?? NaN;

async function main(): Promise<void> {
  const { PostgresStore } = (await import(join(ROOT, 'src/lib/ledger/postgres/postgres-store.ts'))) as { PostgresStore: { connect(u: string, o: object): Promise<Store> } };
  const { leaseReservationId } = (await import(join(ROOT, 'src/lib/ledger/leases/manager.ts'))) as {
    leaseReservationId(l: string, s: string, seq: number, e: number, raw: number | null): string;
  };
  const schema = `nb_bench_${randomBytes(6).toString('hex')}`;
  const url = new URL(PG);
  url.searchParams.set('leases', 'on');
  const s = await PostgresStore.connect(url.toString(), { schema, poolSize: 4 });
  try {
    const now = Date.now();
    await s.setBudget({ projectId: 'p', scope: 'project', userId: null, capNano: 1e9 * E, period: 'day', now });
    const check = {
      projectId: 'p', userId: null, runId: null, model: 'm', estimateNano: E, tokensIn: 1000, tokensOut: 0, unpriced: false, now, holdTtlMs: 600_000,
      prices: { inNanoPerMTok: 1000, outNanoPerMTok: 0 }, provider: 'prov',
    };
    const l = await s.leasePort?.grant({ check, want: 1e6 * E, min: E, w0: E });
    if (!l) throw new Error('grant refused');
    const end = Date.now() + MS;
    let seq = 0;
    let batches = 0;
    const records = (async () => {
      while (Date.now() < end) {
        const rs = [];
        for (let i = 0; i < BATCH; i++) {
          seq++;
          rs.push({
            projectId: 'p', userId: null, runId: null, model: 'm', tokensIn: 1000, tokensOut: 0, cachedTokensIn: 0, cacheWriteTokensIn: 0, costNano: E,
            unpriced: false, wasBlocked: false, reservationId: leaseReservationId(l.leaseId, l.secret, seq, E, null), idempotencyKey: `k${seq}`, ts: Date.now(),
          });
        }
        await s.record(rs);
        batches++;
      }
    })();
    const probe = new pg.Client({ connectionString: PG });
    await probe.connect();
    let running = 0;
    let waiting = 0;
    const sampler = (async () => {
      while (Date.now() < end) {
        const { rows } = await probe.query<{ w: string | null }>(
          `SELECT wait_event_type AS w FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'SELECT nb_lease_raise%'`,
        );
        for (const r of rows) {
          running++;
          if (r.w === 'Lock') waiting++;
        }
        await new Promise((res) => setTimeout(res, 2));
      }
    })();
    const lat: number[] = [];
    while (Date.now() < end) {
      const t = process.hrtime.bigint();
      await s.leasePort?.raise(l.leaseId, E, Date.now());
      lat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    await records;
    await sampler;
    await probe.end();
    lat.sort((a, b) => a - b);
    const f = (x: number) => x.toFixed(2);
    console.log(
      `raises ${lat.length} in ${MS} ms beside ${batches} record batches of ${BATCH}: p50 ${f(pct(lat, 50))} / p90 ${f(pct(lat, 90))} / p99 ${f(pct(lat, 99))} / max ${f(lat.at(-1) ?? NaN)} ms; raise seen ${running}x, waiting for a lock ${waiting}x`,
    );
  } finally {
    await s.close();
    const c = new pg.Client({ connectionString: PG });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await c.end();
  }
}

await main();
