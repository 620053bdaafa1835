/**
 * A reader that goes away before the CLI writes (`noburn ... | head`, `| true`) ends the
 * output quietly: the command's own exit code, no EPIPE stack trace on stderr
 * (docs/cli.md "Exit codes": a closed stdout is not an error of the command).
 */
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { cleanEnv, tempHome, useDist } from '../helpers/cli.js';

const dist = useDist();

// `true` exits without reading, so the pipe is closed long before node has started and writes.
function intoClosedPipe(args: string): { status: number | null; stderr: string } {
  const home = tempHome();
  const r = spawnSync('bash', ['-c', `set -o pipefail; "$NODE" "$CLI" ${args} | true`], {
    encoding: 'utf8',
    env: cleanEnv({ NOBURN_HOME: home, HOME: home, NODE: process.execPath, CLI: dist.cli }),
  });
  return { status: r.status, stderr: r.stderr };
}

it.each([['prices gpt-4o --json'], ['budget show --json'], ['prices gpt-4o']])('noburn %s into a closed pipe: exit 0, no EPIPE crash', (args) => {
  const r = intoClosedPipe(args);
  expect(r.stderr).not.toMatch(/EPIPE|Unhandled 'error'|\n\s+at /);
  expect(r.status, r.stderr).toBe(0);
});
