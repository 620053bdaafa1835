/** Users do not have the design notes: the project cites its own contract page, docs/contract.md. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|tsx|mjs|md)$/.test(n) ? [p] : [];
  });
}

it('no source, test or doc cites a design file that is not in the repository; docs/contract.md is there', () => {
  expect(existsSync(join(REPO_ROOT, 'docs', 'contract.md'))).toBe(true);
  const self = 'docs-contract.test.ts';
  const citing = ['src', 'test', 'docs', 'bench', 'scripts']
    .flatMap((d) => (existsSync(join(REPO_ROOT, d)) ? files(join(REPO_ROOT, d)) : []))
    .concat(join(REPO_ROOT, 'README.md'))
    .filter((f) => !f.endsWith(self) && /\bDESIGN\b/.test(readFileSync(f, 'utf8')));
  expect(citing).toEqual([]);
  const contract = readFileSync(join(REPO_ROOT, 'docs', 'contract.md'), 'utf8');
  for (const s of ['§1', '§3', '§5', '§8', '### Outages']) expect(contract).toContain(s);
});
