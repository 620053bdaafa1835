/**
 * Runs the built CLI (dist/cli.js) as a real child process with its own NOBURN_HOME.
 * Other engineers rebuild dist/ in this working tree at any moment (the build deletes it
 * first), so each suite runs from a private copy of dist/ made once in beforeAll.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Dist {
  dir: string;
  cli: string;
  index: string;
  dispose(): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Copies dist/ (without the type declarations) next to node_modules so its imports still resolve. */
export async function snapshotDist(): Promise<Dist> {
  const src = join(REPO_ROOT, 'dist');
  const base = join(REPO_ROOT, 'node_modules', '.cache', 'noburn-test');
  mkdirSync(base, { recursive: true });
  pruneOldCopies(base);
  for (let attempt = 0; attempt < 20; attempt++) {
    const dir = mkdtempSync(join(base, 'dist-'));
    try {
      if (!existsSync(join(src, 'cli.js')) || !existsSync(join(src, 'index.js'))) throw new Error('dist/ is missing');
      cpSync(src, dir, { recursive: true, filter: (p) => !p.startsWith(join(src, 'types')) });
      // A copy taken mid-rebuild would miss chunks: prove it loads before using it.
      const probe = spawnSync(process.execPath, [join(dir, 'cli.js'), '--version'], { encoding: 'utf8', timeout: 20_000 });
      if (probe.status !== 0) throw new Error(`dist copy does not run: ${probe.stderr}`);
      return { dir, cli: join(dir, 'cli.js'), index: join(dir, 'index.js'), dispose: () => rmSync(dir, { recursive: true, force: true }) };
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      if (attempt === 19) throw new Error(`cannot use dist/ (run npm run build first): ${(e as Error).message}`);
      await sleep(500);
    }
  }
  throw new Error('unreachable');
}

/** Copies left behind by a run that was killed (older than an hour). */
function pruneOldCopies(base: string): void {
  for (const name of readdirSync(base)) {
    const p = join(base, name);
    try {
      if (Date.now() - statSync(p).mtimeMs > 3_600_000) rmSync(p, { recursive: true, force: true });
    } catch {
      // another suite removed it meanwhile
    }
  }
}

const homes: string[] = [];

/** A fresh NOBURN_HOME (removed by removeHomes). */
export function tempHome(prefix = 'noburn-test-'): string {
  const h = mkdtempSync(join(tmpdir(), prefix));
  homes.push(h);
  return h;
}

export function removeHomes(): void {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
}

export function writeConfig(home: string, config: unknown): void {
  writeFileSync(join(home, 'config.json'), typeof config === 'string' ? config : JSON.stringify(config));
}

/** The test process's environment without any NOBURN_* setting, so only what a test sets applies. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NOBURN_') && v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** NOBURN_HOME (and HOME, so that nothing falls back to the real ~/.noburn). */
  home: string;
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed (stdin is always closed). */
  input?: string;
  /** Arguments for node itself, before the script (e.g. --import). */
  nodeArgs?: string[];
  timeoutMs?: number;
}

/** Spawns `node <cli> ...args` and collects its output; kills it after timeoutMs. */
export function runCli(cli: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), cli, ...args], {
      env: cleanEnv({ NOBURN_HOME: opts.home, HOME: opts.home, ...opts.env }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Lines of a stream's text, without the trailing empty line. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l, i, all) => !(l === '' && i === all.length - 1));
}
