/**
 * The lint keeps the code's shape: src/lib imports none of cli, tui, server, proxy (at any
 * depth, dynamic imports too); proxy and server do not import each other; a module's
 * comment sits above its imports. Probe files are written into a temp copy of the project
 * (src/, the lint config and its rules, tsconfig), and the project's own eslint, with its
 * own config, must fail on exactly the bad imports and pass the allowed ones.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

interface Message { ruleId: string | null; line: number; message: string }
interface FileResult { filePath: string; messages: Message[] }

const PROBES: Record<string, string> = {
  // src/lib at depth three: a static import, a re-export, a dynamic import, a type import
  'src/lib/a/b/probe.ts': [
    "import { usd } from '../../../cli/format.js';",
    "export * from '../../../server/server.js';",
    "export type Frame = import('../../../tui/view.js').ViewState;",
    'export const dollars = usd;',
    "export const proxy = () => import('../../../proxy/index.js');",
    '',
  ].join('\n'),
  // src/lib may not use the terminal UI's packages either
  'src/lib/probe-ink.ts': "export { render } from 'ink';\n",
  'src/proxy/probe.ts': "export { startServer } from '../server/server.js';\n",
  'src/server/probe.ts': "export const proxy = () => import('../proxy/index.js');\n",
  'src/tui/probe.ts': "export { runExecCommand } from '../cli/commands/run-exec.js';\n",
  // allowed: lib inside lib at any depth, every layer onto lib, the CLI onto every layer
  'src/lib/a/b/allowed.ts': "export { usdToNano } from '../../money.js';\nexport { estimateTokens } from '../../tokens.js';\n",
  'src/proxy/allowed.ts': "export { NoburnError } from '../lib/errors.js';\n",
  'src/cli/allowed.ts': "export { startServer } from '../server/server.js';\nexport const tui = () => import('../tui/run.js');\n",
  // a module comment left below the imports
  'src/lib/comment-below.ts': "import { usdToNano } from './money.js';\n\n/** What this module holds. */\n\nexport const nano = usdToNano;\n",
  'src/lib/comment-above.ts': "/** What this module holds. */\nimport { usdToNano } from './money.js';\n\n/** The amount in nano-dollars. */\nexport const nano = usdToNano;\n",
};

let copy: string;
let results: Map<string, Message[]>;
let exitCode: number | null;

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), 'noburn-lint-'));
  for (const f of ['src', 'eslint.config.js', 'scripts/lint-rules.js', 'tsconfig.json', 'package.json']) {
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    cpSync(join(REPO_ROOT, f), join(copy, f), { recursive: true });
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
  for (const [f, text] of Object.entries(PROBES)) {
    mkdirSync(dirname(join(copy, f)), { recursive: true });
    writeFileSync(join(copy, f), text);
  }
  const eslint = join(REPO_ROOT, 'node_modules/eslint/bin/eslint.js');
  const r = spawnSync(process.execPath, [eslint, '--max-warnings', '0', '--format', 'json', ...Object.keys(PROBES)], { cwd: copy, encoding: 'utf8' });
  if (r.stdout.trim() === '') throw new Error(`eslint printed nothing: ${r.stderr}`);
  exitCode = r.status;
  results = new Map((JSON.parse(r.stdout) as FileResult[]).map((f) => [f.filePath.slice(copy.length + 1), f.messages]));
});

afterAll(() => {
  if (copy) rmSync(copy, { recursive: true, force: true });
});

const rules = (file: string, ruleId: string) => (results.get(file) ?? []).filter((m) => m.ruleId === ruleId);

describe('the layering rule', () => {
  it('the lint fails on the probes', () => {
    expect(exitCode).toBe(1);
  });

  it('src/lib at depth three importing cli, server, tui and proxy fails, each import (static, re-export, type, dynamic)', () => {
    const found = rules('src/lib/a/b/probe.ts', 'noburn/layers');
    expect(found.map((m) => [m.line, m.message])).toEqual([
      [1, 'src/lib must not import src/cli (../../../cli/format.js).'],
      [2, 'src/lib must not import src/server (../../../server/server.js).'],
      [3, 'src/lib must not import src/tui (../../../tui/view.js).'],
      [5, 'src/lib must not import src/proxy (../../../proxy/index.js).'],
    ]);
  });

  it('src/lib importing the terminal UI package fails', () => {
    expect(rules('src/lib/probe-ink.ts', 'noburn/layers').map((m) => m.message)).toEqual(['src/lib must not import the package ink.']);
  });

  it('src/proxy importing src/server fails, and src/server importing src/proxy', () => {
    expect(rules('src/proxy/probe.ts', 'noburn/layers').map((m) => m.message)).toEqual(['src/proxy must not import src/server (../server/server.js).']);
    expect(rules('src/server/probe.ts', 'noburn/layers').map((m) => m.message)).toEqual(['src/server must not import src/proxy (../proxy/index.js).']);
  });

  it('src/tui importing src/cli fails', () => {
    expect(rules('src/tui/probe.ts', 'noburn/layers').map((m) => m.message)).toEqual(['src/tui must not import src/cli (../cli/commands/run-exec.js).']);
  });

  it('the allowed directions pass: within lib at any depth, onto lib, and the CLI onto every layer', () => {
    for (const f of ['src/lib/a/b/allowed.ts', 'src/proxy/allowed.ts', 'src/cli/allowed.ts']) expect(results.get(f), f).toEqual([]);
  });
});

describe('module comments', () => {
  it('a module comment below the imports fails; above them it passes', () => {
    expect(rules('src/lib/comment-below.ts', 'noburn/module-comment-first').map((m) => m.line)).toEqual([3]);
    expect(results.get('src/lib/comment-above.ts')).toEqual([]);
  });
});
