/**
 * docs/semantics.md "Alerts": eight real OS processes on one ledger file record across the
 * 50 % and 80 % thresholds of a cap; each threshold fires exactly once (decided in the record
 * transaction, UNIQUE key), and the eight deliverers (one per process, claiming with a
 * lease) POST each alert exactly once to a real receiver on 127.0.0.1, none lost while the
 * receiver hangs and then fails, and no record waits on a delivery.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Lib from '../../src/lib/index.js';
import { cleanEnv, removeHomes, runCli, tempHome, useDist } from '../helpers/cli.js';

const WORKER = join(dirname(fileURLToPath(import.meta.url)), '../helpers/alert-worker.mjs');
const WORKERS = 8;
const dist = useDist();
let lib: typeof Lib;

beforeAll(async () => {
  lib = (await import(pathToFileURL(dist.index).href)) as typeof Lib;
});
afterAll(() => removeHomes());

/** A webhook receiver whose answer the test switches: hang (never answer), down (503), up (200). */
function receiver() {
  let mode: 'hang' | 'down' | 'up' = 'hang';
  const hanging: ServerResponse[] = [];
  const accepted: { id: string; body: Record<string, unknown>; key: string | undefined }[] = [];
  let failed = 0;
  let seen = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen++;
      if (mode === 'hang') return void hanging.push(res);
      if (mode === 'down') {
        failed++;
        res.writeHead(503).end();
        return;
      }
      const doc = JSON.parse(body) as Record<string, unknown>;
      accepted.push({ id: String(doc['id']), body: doc, key: req.headers['idempotency-key'] as string | undefined });
      res.writeHead(200).end('ok');
    });
  });
  return {
    listen: () => new Promise<string>((r) => server.listen(0, '127.0.0.1', () => r(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`))),
    set(m: 'hang' | 'down' | 'up') {
      mode = m;
      // The hung deliveries fail now (their sockets are cut): they go back to the queue.
      if (m !== 'hang') for (const res of hanging.splice(0)) res.socket?.destroy();
    },
    get seen() {
      return seen;
    },
    get hanging() {
      return hanging.length;
    },
    get failed() {
      return failed;
    },
    accepted,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** Polls until `cond` holds (bounded): no sleeps that race. */
async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function worker(home: string, webhook: string, spec: { name: string; records: number; costUsd: number }) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [WORKER, dist.index, JSON.stringify(spec)], {
    env: cleanEnv({ NOBURN_HOME: home, HOME: home, NOBURN_ALERTS_WEBHOOK: webhook }),
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const wait = (text: string) => until(`worker ${spec.name}: ${text} (stderr: ${err})`, () => out.includes(text));
  return { child, wait, closed, send: (l: string) => child.stdin.write(`${l}\n`), stderr: () => err };
}

describe('alerts from 8 processes on one ledger file', () => {
  it('each threshold fires once and is POSTed once; a hung then failing receiver loses none; records never wait on it', async () => {
    const rx = receiver();
    const url = await rx.listen();
    const home = tempHome('noburn-alerts-conc-');
    const g = new lib.NoburnGuard({ home, deliverAlerts: false });
    await g.setBudget({ scope: 'project', capUsd: 1, period: 'total', alertAt: [50, 80, 100] });
    // 8 x 18 x $0.00625 = $0.90: across 50 % and 80 %, short of 100 %.
    const ws = Array.from({ length: WORKERS }, (_, i) => worker(home, url, { name: `w${i}`, records: 18, costUsd: 0.00625 }));
    try {
      await Promise.all(ws.map((w) => w.wait('ready')));
      ws.forEach((w) => w.send('go'));
      await Promise.all(ws.map((w) => w.wait('recorded 18')));
      const fired = await g.alerts();
      expect(fired.map((a) => a.threshold)).toEqual([50, 80]);
      expect((await g.getBudgets())[0]?.spentUsd).toBe(0.9);

      // Deliveries are under way and the receiver never answers them...
      await until('a delivery to hang', () => rx.hanging > 0);
      // ...yet a record (a short-lived CLI process) completes, and fires 100 % in its transaction.
      const r = await runCli(dist.cli, ['record', '--model', 'm1', '--tokens-in', '1', '--tokens-out', '1', '--cost', '0.1'], { home, env: { NOBURN_ALERTS_WEBHOOK: url } });
      expect(r.code, r.stderr).toBe(0);
      expect(rx.hanging).toBeGreaterThan(0); // still not answered
      expect((await g.alerts()).map((a) => a.threshold)).toEqual([50, 80, 100]);

      // The receiver now fails for a while, then comes back: every alert arrives, once.
      rx.set('down');
      await until('two failed deliveries', () => rx.failed >= 2);
      rx.set('up');
      await until('every alert delivered', async () => (await g.alerts()).every((a) => a.deliveredAt !== null));
      ws.forEach((w) => w.send('exit'));
      expect(await Promise.all(ws.map((w) => w.closed))).toEqual(Array(WORKERS).fill(0));

      const all = await g.alerts();
      expect(rx.accepted.map((a) => a.id).sort()).toEqual(all.map((a) => a.id).sort());
      for (const a of rx.accepted) expect(a.key).toBe(a.id);
      const at80 = rx.accepted.find((a) => a.body['threshold'] === 80)?.body;
      expect(at80).toMatchObject({ scope: 'project', subject: null, threshold: 80, capUsd: 1, period: 'total', window: 'total' });
      expect(at80?.['spentUsd']).toBeGreaterThanOrEqual(0.8);
      expect(String(at80?.['text'])).toContain('reached 80% of its $1.00 cap');
      // Each fired once in the feed too.
      expect((await (await g.authority()).events(0)).filter((e) => e.kind === 'alert')).toHaveLength(3);
    } finally {
      for (const w of ws) w.child.kill('SIGKILL');
      await g.close();
      await rx.close();
    }
  }, 120_000);
});
