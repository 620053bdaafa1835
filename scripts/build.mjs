// Builds the CLI and the library with esbuild.
//
// `noburn check` runs before every LLM call in a script, so its start-up matters most:
// dist/cli.js is ONE file holding the entry, commander and everything `check` needs. The
// other commands (and remote mode) are separate builds under dist/commands and dist/lib,
// loaded by dynamic import only when used; they share chunks among themselves. Loading
// one file instead of a dozen split chunks is most of the start-up difference.
// Dependencies stay in node_modules (better-sqlite3 is native; ink, the price data, the
// tokenizer, undici, pg... are imported only where used), except commander, which every
// command needs and which is cheaper to parse inside the bundle, and its typed wrapper
// @commander-js/extra-typings (types for the option specs; at run time a 1 KB re-export of
// commander's classes, bundled so that commander is not loaded a second time from node_modules).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const external = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]
  .filter((d) => d !== 'commander' && d !== '@commander-js/extra-typings')
  .flatMap((d) => [d, `${d}/*`]);

// commander is CommonJS: give ESM output a require() for its node: built-ins.
const requireShim = 'import{createRequire as __nbcr}from"node:module";const require=__nbcr(import.meta.url);';
// Linked source maps (positions only, no copy of the sources): a stack trace under
// `node --enable-source-maps` names src/...ts and the line, for the published build too.
// NOBURN_NO_MINIFY=1 keeps the names, for a readable CPU profile (bench/proxy.ts --profile).
const common = { bundle: true, format: 'esm', platform: 'node', target: 'node20', minify: process.env.NOBURN_NO_MINIFY !== '1', sourcemap: true, sourcesContent: false, jsx: 'automatic', external, logLevel: 'warning' };

const commandsDir = resolve(root, 'src/cli/commands');
const lazyCommands = readdirSync(commandsDir).filter((f) => f.endsWith('.ts') && f !== 'check.ts').map((f) => basename(f, '.ts'));
const lazyLib = {
  [resolve(root, 'src/lib/remote/remote.ts')]: './lib/remote.js',
  [resolve(root, 'src/lib/fetch/guard-fetch.ts')]: './lib/guard-fetch.js',
};

/** In the one-file CLI, dynamic imports of other commands and of remote mode point at their own builds. */
const lazyBoundary = {
  name: 'lazy-boundary',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      if (args.kind !== 'dynamic-import') return undefined;
      const target = resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
      if (target.startsWith(commandsDir + '/')) {
        const name = basename(target, '.ts');
        if (lazyCommands.includes(name)) return { path: `./commands/${name}.js`, external: true };
      }
      if (lazyLib[target]) return { path: lazyLib[target], external: true };
      return undefined;
    });
  },
};

/** The library's entries: the core (`noburn`) and each subpath export (`noburn/ai-sdk`). */
const libEntries = { index: 'src/lib/index.ts', 'ai-sdk': 'src/lib/ai-sdk/index.ts' };

// better-sqlite3's JavaScript (a dozen small CommonJS files, each a resolve, a read and a
// compile at start-up) is bundled into the one-file CLI too; its native addon stays in
// node_modules and is loaded by path (sqlite-file.ts). The library builds keep it external.
const cliExternal = external.filter((d) => d !== 'better-sqlite3' && d !== 'better-sqlite3/*');
const driverFile = resolve(root, 'src/lib/sqlite-driver.ts');
const bundledDriver = {
  name: 'bundled-sqlite-driver',
  setup(b) {
    b.onResolve({ filter: /sqlite-driver\.js$/ }, (args) =>
      resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts') === driverFile ? { path: resolve(root, 'scripts/cli/sqlite-driver.ts') } : undefined,
    );
  },
};

// The CLI is CommonJS (an ES module entry costs Node's ESM loader on every start-up). The
// bin, dist/cli.cjs (src/cli/bin.ts), compiles the bundle dist/cli-main.cjs with a V8 code
// cache (src/cli/code-cache.ts); code compiled that way has no import() on Node 20, so the
// bundle's dynamic imports are renamed to a function the bin passes in. The rename keeps
// the length (`import` and `__nbI_` are both 6 characters), so the source map still holds.
// The bundle's hash goes into the bin and names the cache: a rebuild never meets an old one.
const DYNAMIC_IMPORT = '__nbI_';
const importCall = /(?<![.\w$])import\(/g;
async function buildCli() {
  const outfile = 'dist/cli-main.cjs';
  const r = await build({
    ...common,
    format: 'cjs',
    external: cliExternal,
    entryPoints: ['src/cli/main.ts'],
    outfile,
    plugins: [lazyBoundary, bundledDriver, lazyChildProcess],
    define: { 'import.meta.url': '__nb_import_meta_url' },
    banner: { js: 'const __nb_import_meta_url=require("node:url").pathToFileURL(__filename).href;' },
    write: false,
    metafile: true,
  });
  const lazy = new Set((r.metafile.outputs[outfile]?.imports ?? []).filter((i) => i.kind === 'dynamic-import' && i.external).map((i) => i.path));
  let hash = '';
  for (const f of r.outputFiles) {
    let text = f.text;
    if (f.path.endsWith('.cjs')) {
      if (text.includes(DYNAMIC_IMPORT)) throw new Error(`build: ${outfile} already uses the name ${DYNAMIC_IMPORT}`);
      // Every import( must be one of the lazy imports esbuild reports, with its specifier as a literal.
      const calls = [...text.matchAll(/(?<![.\w$])import\(([^)]*)\)/g)];
      for (const [call, arg] of calls) if (!/^"[^"]+"$/.test(arg ?? '') || !lazy.has(JSON.parse(arg ?? '""'))) throw new Error(`build: unexpected ${call} in ${outfile}`);
      text = text.replace(importCall, `${DYNAMIC_IMPORT}(`);
      hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
    }
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, text);
  }
  await build({
    ...common,
    format: 'cjs',
    entryPoints: ['src/cli/bin.ts'],
    outfile: 'dist/cli.cjs',
    define: { 'import.meta.url': '__nb_import_meta_url', NOBURN_BUNDLE_HASH: JSON.stringify(hash) },
    banner: { js: '#!/usr/bin/env node\nconst __nb_import_meta_url=require("node:url").pathToFileURL(__filename).href;' },
  });
  chmodSync(resolve(root, 'dist/cli.cjs'), 0o755);
}

// commander requires node:child_process (~6 ms to load) at the top of lib/command.js, for
// executable subcommands, which noburn has none of: in the CLI bundle it is required when
// spawn is first called. The build fails if commander's line changes (a new version).
const lazyChildProcess = {
  name: 'commander-lazy-child-process',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const line = "const childProcess = require('node:child_process');";
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(line)) throw new Error(`build: ${args.path} no longer has: ${line}`);
      return { contents: text.replace(line, "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };"), loader: 'js' };
    });
  },
};

rmSync(resolve(root, 'dist'), { recursive: true, force: true });
await Promise.all([
  buildCli(),
  // dist/cli.js, the bin of earlier versions, still runs the CLI (through the ESM loader).
  build({ ...common, stdin: { contents: "import './cli.cjs';", resolveDir: resolve(root, 'dist'), sourcefile: 'cli-compat.js' }, external: ['./cli.cjs'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
  build({
    ...common,
    entryPoints: {
      ...Object.fromEntries(lazyCommands.map((n) => [`commands/${n}`, `src/cli/commands/${n}.ts`])),
      'lib/remote': 'src/lib/remote/remote.ts',
      'lib/guard-fetch': 'src/lib/fetch/guard-fetch.ts',
    },
    outdir: 'dist',
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    banner: { js: requireShim },
  }),
  build({ ...common, entryPoints: libEntries, outdir: 'dist', splitting: true, chunkNames: 'lib-chunks/[name]-[hash]', banner: { js: requireShim } }),
  // The same library for CommonJS apps (`require('noburn')`): one file per entry (CommonJS
  // has no shared chunks). Lazy parts stay lazy: relative dynamic imports become deferred
  // module initialisers inside the file, and packages imported dynamically (the tokenizer,
  // the price data, pg...) keep their import(), so nothing heavy loads at require().
  build({
    ...common,
    format: 'cjs',
    entryPoints: libEntries,
    outdir: 'dist/cjs',
    // import.meta does not exist in CommonJS: the library only uses its url (createRequire).
    define: { 'import.meta.url': '__nb_import_meta_url' },
    banner: { js: 'const __nb_import_meta_url=require("node:url").pathToFileURL(__filename).href;' },
  }),
]);
// The .js files under dist/cjs are CommonJS, and so are the declarations copied next to
// them: TypeScript reads `require('noburn')`'s types as CommonJS ones from that folder.
writeFileSync(resolve(root, 'dist/cjs/package.json'), '{ "type": "commonjs" }\n');
chmodSync(resolve(root, 'dist/cli.js'), 0o755);

// Type declarations for the library's users.
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit', cwd: root });
cpSync(resolve(root, 'dist/types'), resolve(root, 'dist/cjs/types'), { recursive: true });
