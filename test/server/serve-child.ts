/**
 * `noburn serve` as a real child process, optionally under shell limits set just before
 * exec (`ulimit -n 256` for descriptor starvation, `ulimit -f N` with SIGXFSZ ignored for
 * a full disk). Resolves once it logged "listening", with its URL.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { cleanEnv } from '../helpers/cli.js';

export interface ServeChild {
  child: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  exit: Promise<number | null>;
  stop(): Promise<void>;
}

export async function serveChild(cli: string, home: string, args: string[], opts: { limits?: string; env?: Record<string, string | undefined> } = {}): Promise<ServeChild> {
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
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
}
