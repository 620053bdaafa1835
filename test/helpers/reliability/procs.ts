/** A crash-writer.mjs process: `ready` resolves once it holds its leaked hold and starts its burst. */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../cli.js';

export interface Writer {
  child: ChildProcessWithoutNullStreams;
  ready: Promise<void>;
  /** Resolves when a writer given a stop point has reached it. */
  paused: Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

const WRITER = join(dirname(fileURLToPath(import.meta.url)), 'crash-writer.mjs');

export interface WriterOptions {
  index: string;
  journal: string;
  id: string;
  seed: number;
  mode: 'burst' | 'drain' | 'hold';
  stopAt?: 'intent' | 'committed';
  env: Record<string, string>;
}

export function startWriter(o: WriterOptions): Writer {
  const args = [WRITER, o.index, o.journal, o.id, String(o.seed), o.mode, ...(o.stopAt ? [o.stopAt] : [])];
  const child = spawn(process.execPath, args, { env: cleanEnv(o.env) });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8');
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  const said = (line: string) =>
    new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => {
        if (stdout.includes(`${line}\n`)) resolve();
      });
      void exit.then((e) => reject(new Error(`writer ${o.id} ended before it said ${line} (${e.code ?? e.signal}): ${e.stderr}`)));
    });
  child.stdout.on('data', (d: string) => (stdout += d));
  const ready = said('ready');
  const paused = said('paused');
  ready.catch(() => {});
  paused.catch(() => {});
  // A safety net: no writer outlives the test by more than its own bounds.
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void exit.then(() => clearTimeout(guard));
  return { child, ready, paused, exit };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** mulberry32, for reproducible kill schedules from a printed seed. */
export function prng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}
