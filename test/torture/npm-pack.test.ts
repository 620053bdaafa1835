/**
 * Packaging, tried as a user of the published package would: `npm pack` of the built
 * package, the tarball installed into an empty project (its dependencies come from the
 * registry, better-sqlite3 may compile: a few minutes), then used from CommonJS
 * (`require`), from ESM (`import`), by TypeScript in both module systems, and as
 * `npx noburn check`. Library users load none of the CLI's heavy packages.
 * Needs `npm run build` first (test:torture does it).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, REPO_ROOT } from '../helpers/cli.js';

let tmp: string;
let app: string;
let home: string;
let installed = false;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command with stdin closed and a hard timeout (the whole process group is killed). */
function run(cmd: string, args: string[], opts: { cwd: string; env?: Record<string, string | undefined>; timeoutMs?: number }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: cleanEnv({ NOBURN_HOME: home, npm_config_yes: 'false', ...opts.env }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const tail = (r: Result) => `${r.stdout.slice(-3000)}\n--- stderr ---\n${r.stderr.slice(-3000)}`;
const node = (script: string, extra: string[] = []) => run(process.execPath, [...extra, script], { cwd: app });

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'noburn-pack-'));
  app = join(tmp, 'app');
  home = join(tmp, 'home');
  mkdirSync(app);
  mkdirSync(home);
  // An empty CommonJS project (no "type": the default a new `npm init` project has).
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'pack-test-app', version: '1.0.0', private: true }));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed tarball, installed into an empty project', () => {
  it('npm pack, then npm install of the tarball', async () => {
    // --ignore-scripts: pack the dist/ already built instead of rebuilding it (prepare)
    // under other tests that read it.
    const pack = await run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], { cwd: REPO_ROOT });
    expect(pack.code, tail(pack)).toBe(0);
    const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    expect(tarball, 'npm pack wrote no tarball').toBeDefined();
    const r = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(tmp, tarball as string)], { cwd: app, timeoutMs: 900_000 });
    expect(r.code, tail(r)).toBe(0);
    installed = true;
  }, 960_000);

  it('require("noburn") works in a CommonJS app: cap, check, record, close', async () => {
    expect(installed, 'npm install failed').toBe(true);
    writeFileSync(
      join(app, 'use.cjs'),
      `const { NoburnGuard, NoburnBlockedError } = require('noburn');
(async () => {
  const guard = new NoburnGuard();
  await guard.setBudget({ scope: 'user', userId: 'u1', capUsd: 0.01 });
  const d = guard.assert(await guard.check({ model: 'gpt-4o', estimatedTokensIn: 100, estimatedTokensOut: 10, endUserId: 'u1' }));
  guard.record({ model: 'gpt-4o', tokensIn: 100, tokensOut: 10, endUserId: 'u1', reservationId: d.reservationId });
  let blocked = null;
  try { guard.assert(await guard.check({ model: 'gpt-4o', estimatedTokensIn: 1e6, estimatedTokensOut: 10, endUserId: 'u1' })); }
  catch (e) { blocked = e instanceof NoburnBlockedError ? e.code : String(e); }
  await guard.close();
  const { noburnMiddleware } = require('noburn/ai-sdk');
  console.log(JSON.stringify({ blocked, reservation: d.reservationId.slice(0, 4), middleware: typeof noburnMiddleware }));
})();
`,
    );
    const r = await node('use.cjs');
    expect(r.code, tail(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ blocked: 'NOBURN_BLOCKED', reservation: 'res_', middleware: 'function' });
  }, 60_000);

  it('import works in an ESM module, and sees what the CommonJS app recorded', async () => {
    expect(installed, 'npm install failed').toBe(true);
    writeFileSync(
      join(app, 'use.mjs'),
      `import { NoburnGuard } from 'noburn';
import { noburnMiddleware } from 'noburn/ai-sdk';
const guard = new NoburnGuard();
const s = await guard.spend({ by: 'user' });
await guard.close();
console.log(JSON.stringify({ calls: s.calls, users: s.rows.map((r) => r.key), middleware: typeof noburnMiddleware }));
`,
    );
    const r = await node('use.mjs');
    expect(r.code, tail(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ calls: 1, users: ['u1'], middleware: 'function' });
  }, 60_000);

  it('a library user loads none of the CLI packages (ink, react, pg, prom-client, commander)', async () => {
    expect(installed, 'npm install failed').toBe(true);
    const loads = join(tmp, 'loads.txt');
    const recorder = join(REPO_ROOT, 'test/helpers/record-loads.mjs');
    const r = await run(process.execPath, ['--import', recorder, 'use.cjs'], { cwd: app, env: { NOBURN_TEST_LOADS: loads } });
    expect(r.code, tail(r)).toBe(0);
    const text = readFileSync(loads, 'utf8');
    const pkgs = new Set([...text.matchAll(/node_modules\/((?:@[^/]+\/)?[^/\s]+)\//g)].map((m) => m[1]));
    expect(pkgs.has('noburn'), 'the recorder saw noburn itself').toBe(true);
    for (const p of ['ink', 'react', 'pg', 'prom-client', 'commander', 'ai']) expect(pkgs.has(p), `${p} was loaded`).toBe(false);
  }, 60_000);

  it('guard.fetch() works from CommonJS (its lazily loaded metering included): a call is metered per user', async () => {
    expect(installed, 'npm install failed').toBe(true);
    writeFileSync(
      join(app, 'fetch.cjs'),
      `const http = require('node:http');
const { NoburnGuard } = require('noburn');
const usage = { prompt_tokens: 20, completion_tokens: 12, total_tokens: 32 };
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'x', object: 'chat.completion', model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }], usage }));
  });
});
server.listen(0, '127.0.0.1', async () => {
  const guard = new NoburnGuard();
  const f = guard.fetch({ endUserId: 'cjs-user' });
  const r = await f('http://127.0.0.1:' + server.address().port + '/v1/chat/completions', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hi' }], max_tokens: 20 }),
  });
  const body = await r.json();
  await new Promise((ok) => setTimeout(ok, 50));
  await guard.flush();
  const s = await guard.spend({ by: 'user' });
  await guard.close();
  server.close();
  const row = s.rows.find((x) => x.key === 'cjs-user');
  console.log(JSON.stringify({ status: r.status, content: body.choices[0].message.content, calls: row ? row.calls : 0, tokensIn: row ? row.tokensIn : 0 }));
});
`,
    );
    const r = await node('fetch.cjs');
    expect(r.code, tail(r)).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ status: 200, content: 'hi', calls: 1, tokensIn: 20 });
  }, 60_000);

  it('TypeScript resolves the types from both module systems (nodenext)', async () => {
    expect(installed, 'npm install failed').toBe(true);
    writeFileSync(join(app, 'types-cjs.cts'), `import { NoburnGuard, NoburnBlockedError } from 'noburn';\nimport { noburnMiddleware } from 'noburn/ai-sdk';\nconst g: NoburnGuard = new NoburnGuard();\nconst e: typeof NoburnBlockedError = NoburnBlockedError;\nexport { g, e, noburnMiddleware };\n`);
    writeFileSync(join(app, 'types-esm.mts'), `import { NoburnGuard, type Decision } from 'noburn';\nimport { noburnMiddleware } from 'noburn/ai-sdk';\nconst d: Decision | null = null;\nexport { NoburnGuard, d, noburnMiddleware };\n`);
    // The app has no @types/node nor `ai`: skipLibCheck, as most apps set it.
    const compilerOptions = { noEmit: true, strict: true, skipLibCheck: true, module: 'nodenext', moduleResolution: 'nodenext', types: [] };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['types-cjs.cts', 'types-esm.mts'] }));
    const r = await run(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: app });
    expect(r.code, tail(r)).toBe(0);
  }, 120_000);

  it('npx noburn check works from the installed package', async () => {
    expect(installed, 'npm install failed').toBe(true);
    const r = await run('npx', ['noburn', 'check', '--model', 'gpt-4o', '--tokens-in', '1000', '--tokens-out', '300'], { cwd: app });
    expect(r.code, tail(r)).toBe(0);
    expect(r.stdout).toMatch(/^res_[\w-]+\n$/);
  }, 60_000);
});
