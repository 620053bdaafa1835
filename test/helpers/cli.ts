/**
 * The one way tests run the built CLI (dist/cli.cjs, the bin): as a real child process with its own
 * NOBURN_HOME. Other engineers rebuild dist/ in this working tree at any moment (the build
 * deletes it first), so each suite runs from a private copy of dist/ made once in
 * beforeAll (useDist, or snapshotDist by hand).
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';

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
      if (!existsSync(join(src, 'cli.cjs')) || !existsSync(join(src, 'index.js'))) throw new Error('dist/ is missing');
      cpSync(src, dir, { recursive: true, filter: (p) => !p.startsWith(join(src, 'types')) });
      // A copy taken mid-rebuild would miss chunks: prove it loads before using it.
      const probe = spawnSync(process.execPath, [join(dir, 'cli.cjs'), '--version'], { encoding: 'utf8', timeout: 20_000 });
      if (probe.status !== 0) throw new Error(`dist copy does not run: ${probe.stderr}`);
      return { dir, cli: join(dir, 'cli.cjs'), index: join(dir, 'index.js'), dispose: () => rmSync(dir, { recursive: true, force: true }) };
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

/**
 * A private copy of dist/ for this test file, made in beforeAll; removed, with every
 * tempHome, in afterAll. Call it at the top of the file, before hooks that use it.
 */
export function useDist(): Dist {
  let dist: Dist | undefined;
  beforeAll(async () => {
    dist = await snapshotDist();
  });
  afterAll(() => {
    dist?.dispose();
    removeHomes();
  });
  const made = (): Dist => {
    if (dist === undefined) throw new Error('useDist(): the copy of dist/ is made in beforeAll');
    return dist;
  };
  return {
    get dir() {
      return made().dir;
    },
    get cli() {
      return made().cli;
    },
    get index() {
      return made().index;
    },
    dispose: () => made().dispose(),
  };
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

/**
 * The test process's environment without any NOBURN_*, OPENAI_* or ANTHROPIC_* setting
 * (so only what a test sets applies: a developer's own keys or base URLs never reach a
 * test), without colour, plus `extra` (an undefined value removes a variable).
 */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(NOBURN_|OPENAI_|ANTHROPIC_)/.test(k) && v !== undefined) env[k] = v;
  env['NO_COLOR'] = '1';
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
  /** Killed (SIGKILL) after this, so that no test can hang (default 60 s). */
  timeoutMs?: number;
}

export interface Running {
  child: ChildProcessWithoutNullStreams;
  /** Resolves once stdout contains `text`; rejects if the process ends first. */
  waitFor(text: string): Promise<void>;
  done: Promise<RunResult>;
}

/** Starts `node <cli> ...args` and collects its output. */
export function startCli(cli: string, args: readonly string[], opts: RunOptions): Running {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), cli, ...args], {
    env: cleanEnv({ NOBURN_HOME: opts.home, HOME: opts.home, ...opts.env }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    for (const w of [...waiters]) if (stdout.includes(w.text)) w.resolve();
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const done = new Promise<RunResult>((resolvePromise, reject) => {
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
  child.stdin.on('error', () => {});
  child.stdin.end(opts.input ?? '');
  return {
    child,
    done,
    waitFor: (text) =>
      new Promise<void>((resolveWait, reject) => {
        if (stdout.includes(text)) return resolveWait();
        waiters.push({ text, resolve: resolveWait });
        done.then(
          () => reject(new Error(`exited before printing ${JSON.stringify(text)}; stderr: ${stderr}`)),
          (e: unknown) => reject(e instanceof Error ? e : new Error(String(e))),
        );
      }),
  };
}

/** Runs `node <cli> ...args` to its end and collects its output. */
export function runCli(cli: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return startCli(cli, args, opts).done;
}

export interface ServeChild {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  exit: Promise<number | null>;
  /** Stops it (SIGKILL unless told) and waits for its end. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * `noburn serve --port 0 ...args` as a real child process, optionally under shell limits
 * set just before exec (`ulimit -n 256` for descriptor starvation, `ulimit -f N` with
 * SIGXFSZ ignored for a full disk). Resolves once it logged "listening", with its URL.
 * A later `--port N` in args wins over the 0.
 */
export async function serveCli(cli: string, home: string, args: readonly string[] = [], opts: { limits?: string; env?: Record<string, string | undefined> } = {}): Promise<ServeChild> {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const cmd = `${opts.limits ?? ''} exec ${q(process.execPath)} ${q(cli)} serve --port 0 ${args.map(q).join(' ')}`;
  const child = spawn('bash', ['-c', cmd], { env: cleanEnv({ NOBURN_HOME: home, HOME: home, ...opts.env }) });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout.resume();
  const exit = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const deadline = Date.now() + 20_000;
  while (!/"msg":"listening"/.test(err)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`serve did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const url = (JSON.parse(err.split('\n').find((l) => l.includes('"listening"')) as string) as { url: string }).url;
  return {
    child,
    url,
    stderr: () => err,
    exit,
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exit;
    },
  };
}

/** Lines of a stream's text, without the trailing empty line. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l, i, all) => !(l === '' && i === all.length - 1));
}
