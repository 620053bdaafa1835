/** What one check-worker.mjs process reports. */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from './cli.js';

export interface WorkerResult {
  approved: number;
  blocked: number;
  reasons: Record<string, number>;
  reservations: string[];
  estimates: number[];
  sources: string[];
  /** Approved with a clamped output bound (clamp: true). */
  clamped?: number;
  /** The sum of the holds it was approved (nano-dollars). */
  heldNano?: number;
}

export interface WorkerSpec {
  model: string;
  tokensIn: number;
  tokensOut: number;
  attempts: number;
  endUserId?: string;
  runId?: string;
  clamp?: boolean;
  minTokensOut?: number;
}

const WORKER = join(dirname(fileURLToPath(import.meta.url)), 'check-worker.mjs');

/**
 * Starts `count` worker processes on one NOBURN_HOME, waits until every one has its ledger
 * open, releases them together, and returns their reports. Every worker is killed if the
 * whole thing takes longer than timeoutMs.
 */
export async function hammer(indexJs: string, home: string, count: number, spec: WorkerSpec, timeoutMs = 60_000): Promise<WorkerResult[]> {
  const children: ChildProcessWithoutNullStreams[] = [];
  const timer = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), timeoutMs);
  try {
    const ready: Promise<void>[] = [];
    const done: Promise<WorkerResult>[] = [];
    for (let i = 0; i < count; i++) {
      const child = spawn(process.execPath, [WORKER, indexJs, JSON.stringify(spec)], { env: cleanEnv({ NOBURN_HOME: home, HOME: home }) });
      children.push(child);
      let out = '';
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.stdout.setEncoding('utf8');
      ready.push(
        new Promise((resolve, reject) => {
          const onData = (d: string) => {
            out += d;
            if (out.startsWith('ready\n')) {
              child.stdout.off('data', onData);
              out = out.slice('ready\n'.length);
              child.stdout.on('data', (more: string) => (out += more));
              resolve();
            }
          };
          child.stdout.on('data', onData);
          child.on('close', (code) => reject(new Error(`worker ${i} exited (${code}) before it was ready: ${err}`)));
        }),
      );
      done.push(
        new Promise((resolve, reject) => {
          child.on('close', (code) => {
            if (code !== 0) return reject(new Error(`worker ${i} exited with ${code}: ${err}`));
            try {
              resolve(JSON.parse(out.trim()) as WorkerResult);
            } catch {
              reject(new Error(`worker ${i} printed no result: ${out} ${err}`));
            }
          });
        }),
      );
    }
    // A worker that dies early rejects both promises: keep the second from going unhandled.
    for (const p of done) p.catch(() => {});
    await Promise.all(ready);
    for (const c of children) c.stdin.end('go\n');
    return await Promise.all(done);
  } finally {
    clearTimeout(timer);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}
