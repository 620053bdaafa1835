// A writer process for the crash torture test, to be killed with SIGKILL at a random
// moment. It uses the built library (dist/index.js) the way an app does: check, then
// record with an idempotency key, then flush(). The journal is how it tells the test
// what it promised:
//   I <batch> <json records>   written BEFORE the batch is recorded (what it will record)
//   A <batch> <writer>         written only AFTER flush() resolved (acknowledged, by whom)
//   L <writer> <reservation>   a hold taken on purpose and never settled (it must expire)
// A new writer first re-records every batch with an intent and no ack, with the same
// keys (the at-least-once retry an app does after a crash): the ledger must count each once.
// Mode `hold` only takes holds until the project cap refuses one, then waits to be killed.
// With a stop point, the burst says "paused" and waits to be killed at a known place in its
// third batch: `intent` (promised, not recorded) or `committed` (recorded, not acknowledged).
// usage: node crash-writer.mjs <dist/index.js> <journal> <writer id> <seed> <burst|drain|hold> [intent|committed]
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [indexPath, journal, writerId, seedText, mode, stopAt] = process.argv.slice(2);
const { NoburnGuard } = await import(pathToFileURL(indexPath).href);

const MODEL = 'crash-m'; // priced below; the test derives costs from the same figures
let seed = Number(seedText) >>> 0;
/** mulberry32: the content of a burst is reproducible from its seed (the kill time is not). */
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);

const guard = new NoburnGuard({ prices: { [MODEL]: { inputPerMTok: 1, outputPerMTok: 4 } } });

function unacknowledged() {
  if (!existsSync(journal)) return [];
  const lines = readFileSync(journal, 'utf8').split('\n');
  lines.pop(); // the text after the last newline: empty, or a line cut short by a kill
  const intents = new Map();
  const acked = new Set();
  for (const l of lines) {
    const [tag, id] = l.split(' ', 2);
    if (tag === 'I') intents.set(id, JSON.parse(l.slice(3 + id.length)));
    else if (tag === 'A') acked.add(id);
  }
  return [...intents].filter(([id]) => !acked.has(id));
}

for (const [id, records] of unacknowledged()) {
  for (const r of records) guard.record(r);
  await guard.flush();
  appendFileSync(journal, `A ${id} ${writerId}\n`);
}

async function pause(where, b) {
  if (stopAt !== where || b !== 2) return;
  process.stdout.write('paused\n');
  await new Promise((resolve) => setTimeout(resolve, 20_000));
  throw new Error('not killed while paused');
}

if (mode === 'burst') {
  const leak = await guard.check({ model: MODEL, estimatedTokensIn: 1000, estimatedTokensOut: 100, endUserId: 'leak' });
  if (leak.blocked || leak.source !== 'ledger') throw new Error(`leak check not held: ${JSON.stringify(leak)}`);
  appendFileSync(journal, `L ${writerId} ${leak.reservationId}\n`);
  process.stdout.write('ready\n');

  // Bounded in count and time, though the test kills it long before either bound.
  const deadline = Date.now() + 20_000;
  for (let b = 0; b < 5_000 && Date.now() < deadline; b++) {
    const id = `${writerId}.${b}`;
    const records = [];
    const n = 1 + int(6);
    for (let i = 0; i < n; i++) {
      const user = ['u1', 'u2', 'u3'][int(3)];
      const tokensIn = 100 + int(5_000);
      const tokensOut = int(1_000);
      // Some calls carry tags (one or two), so the per-tag usage rows are recomputed too (derive.ts).
      const k = int(3);
      const tags = k === 0 ? undefined : k === 1 ? { feature: 'search' } : { feature: 'chat', team: 'core' };
      const d = await guard.check({ model: MODEL, estimatedTokensIn: tokensIn, estimatedTokensOut: tokensOut, endUserId: user, tags });
      if (d.source !== 'ledger') throw new Error(`check fell back: ${JSON.stringify(d)}`);
      const r = { model: MODEL, tokensIn, tokensOut, endUserId: user, idempotencyKey: `${id}.${i}`, wasBlocked: d.blocked || int(10) === 0, tags };
      if (int(3) > 0) r.costUsd = (1 + int(5_000_000)) / 1e9; // else priced from tokens
      if (d.reservationId && int(4) > 0) r.reservationId = d.reservationId; // else the oldest open hold of the same shape is released
      records.push(r);
    }
    appendFileSync(journal, `I ${id} ${JSON.stringify(records)}\n`);
    await pause('intent', b);
    for (const r of records) guard.record(r);
    await guard.flush();
    await pause('committed', b);
    appendFileSync(journal, `A ${id} ${writerId}\n`);
  }
}
if (mode === 'hold') {
  for (let i = 0; i < 1_000; i++) {
    const d = await guard.check({ model: MODEL, estimatedTokensIn: 1_000, estimatedTokensOut: 0, endUserId: 'holder' });
    if (d.blocked) break;
  }
  process.stdout.write('ready\n');
  await new Promise((resolve) => setTimeout(resolve, 20_000));
}
await guard.close();
