/**
 * The built files are minified; each carries a linked source map, so that a stack trace
 * under `node --enable-source-maps` names the TypeScript source and line (src/lib/money.ts),
 * for the ESM and the CommonJS library alike. The maps hold no copy of the sources (the
 * package does not ship src/), only the positions.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useDist } from '../helpers/cli.js';

const dist = useDist();

/** The first stack frame of usdToNano('x') thrown in a child node, with or without source maps. */
function firstFrame(kind: 'esm' | 'cjs', sourceMaps: boolean): string {
  const script =
    kind === 'esm'
      ? `import { usdToNano } from ${JSON.stringify(dist.index)}; try { usdToNano('x'); } catch (e) { console.log(e.stack.split('\\n')[1]); }`
      : `const { usdToNano } = require(${JSON.stringify(join(dist.dir, 'cjs/index.js'))}); try { usdToNano('x'); } catch (e) { console.log(e.stack.split('\\n')[1]); }`;
  const args = [...(sourceMaps ? ['--enable-source-maps'] : []), ...(kind === 'esm' ? ['--input-type=module'] : []), '-e', script];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(join(dir, e.name)) : /\.c?js$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

describe('source maps in dist', () => {
  it.each(['esm', 'cjs'] as const)('%s: with --enable-source-maps a stack frame names the TypeScript source; without, the minified file', (kind) => {
    expect(firstFrame(kind, true)).toMatch(/src\/lib\/money\.ts:\d+:\d+\)$/);
    expect(firstFrame(kind, false)).not.toMatch(/\.ts:\d+/);
  });

  it('every built .js file links its map, and the maps carry positions, not the sources', () => {
    const files = jsFiles(dist.dir);
    expect(files.map((f) => relative(dist.dir, f))).toEqual(expect.arrayContaining(['cli.cjs', 'cli-main.cjs', 'cli.js']));
    for (const f of files) {
      const name = relative(dist.dir, f);
      expect(readFileSync(f, 'utf8').trimEnd().split('\n').pop(), name).toMatch(/^\/\/# sourceMappingURL=[^/]+\.c?js\.map$/);
      expect(existsSync(`${f}.map`), `${name}.map`).toBe(true);
      const map = JSON.parse(readFileSync(`${f}.map`, 'utf8')) as { version: number; sourcesContent?: unknown };
      expect(map.version, name).toBe(3);
      expect(map.sourcesContent, name).toBeUndefined();
    }
  });

  it('the CLI: under --enable-source-maps the bin loads its bundle through Node, which maps it (a vm script would not be)', () => {
    // Node keys its source maps by real path (node_modules may be a symlink).
    const bundle = realpathSync(join(dist.dir, 'cli-main.cjs'));
    const probe = join(dist.dir, 'probe-map.cjs');
    writeFileSync(probe, `process.on('exit', () => process.stderr.write('map:' + (require('node:module').findSourceMap(${JSON.stringify(bundle)}) !== undefined)));`);
    try {
      const mapped = (sourceMaps: boolean) => {
        const r = spawnSync(process.execPath, [...(sourceMaps ? ['--enable-source-maps'] : []), '-r', probe, dist.cli, '--version'], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        return r.stderr;
      };
      expect(mapped(true)).toBe('map:true');
      expect(mapped(false)).toBe('map:false');
    } finally {
      rmSync(probe);
    }
  });
});
