// A worker process for the alerts concurrency test: opens the ledger through the built
// library (dist/index.js; its alert deliverer starts with it, NOBURN_ALERTS_WEBHOOK from the
// env), says "ready", waits for a line on stdin, records `records` calls of `costUsd` each,
// flushes them, says "recorded", and keeps delivering alerts until stdin says "exit".
// usage: node alert-worker.mjs <path of dist/index.js> '<json spec>'
import { pathToFileURL } from 'node:url';

const [indexPath, specText] = process.argv.slice(2);
const spec = JSON.parse(specText);
const { NoburnGuard } = await import(pathToFileURL(indexPath).href);

const guard = new NoburnGuard({ onRecordError: (e) => process.stderr.write(`record error: ${e}\n`) });
await guard.alerts(); // opens the ledger (and starts the deliverer) before the start signal

const lines = [];
let wake = null;
process.stdin.setEncoding('utf8').on('data', (d) => {
  lines.push(...d.split('\n').filter((l) => l !== ''));
  wake?.();
});
const nextLine = async () => {
  while (lines.length === 0) await new Promise((r) => (wake = r));
  return lines.shift();
};

process.stdout.write('ready\n');
await nextLine();
for (let i = 0; i < spec.records; i++) {
  guard.record({ model: 'm1', tokensIn: 1, tokensOut: 1, costUsd: spec.costUsd, idempotencyKey: `${spec.name}-${i}` });
}
const f = await guard.flush();
process.stdout.write(`recorded ${f.delivered}\n`);
await nextLine();
await guard.close();
process.stdout.write('closed\n');
process.exit(0);
