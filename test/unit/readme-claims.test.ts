/** The README's headline claims match the pages that state them precisely: the cap guarantee is
 * qualified and linked to docs/semantics.md "The guarantee, in numbers"; docs/library.md names the
 * ai versions the middleware is tested on, and those are the ones the dev dependencies install. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

const read = (p: string): string => readFileSync(join(REPO_ROOT, p), 'utf8');

it('README does not claim caps are never overshot without the conditions, and links the guarantee', () => {
  const intro = read('README.md').split('\n## ')[0]!.replace(/\s+/g, ' ');
  expect(intro).not.toMatch(/Caps are never overshot/i);
  expect(intro).toContain('over-hold');
  expect(intro).toContain('"The guarantee, in numbers"');
  const link = /\(docs\/semantics\.md#([a-z0-9-]+)\)/.exec(intro);
  expect(link).not.toBeNull();
  // The anchor is the GitHub slug of the section that holds the paragraph.
  const semantics = read('docs/semantics.md');
  const heading = semantics.split('\n').find((l) => l.startsWith('## ') && slug(l.slice(3)) === link![1]);
  expect(heading).toBeDefined();
  const section = semantics.slice(semantics.indexOf(heading!)).split('\n## ')[0]!;
  expect(section).toContain('**The guarantee, in numbers.**');
});

it('docs/library.md states the ai versions tested (v5, v6) and that v7 requires Node 22', () => {
  const lib = read('docs/library.md').replace(/\s+/g, ' ');
  expect(lib).toContain('Tested on ai v5 and v6.');
  expect(lib).toMatch(/ai v7 requires Node 22/);
  const dev = (JSON.parse(read('package.json')) as { devDependencies: Record<string, string> }).devDependencies;
  expect(dev['ai']).toMatch(/^\^6\./);
  expect(dev['ai5']).toMatch(/^npm:ai@\^5\./);
});

function slug(h: string): string {
  return h.trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
}
