// Builds the CLI and the library with esbuild: one bundled ESM entry per target, code
// splitting so that dynamic imports (ink/react, the price data, the tokenizer, the server)
// stay out of `noburn check`'s start-up. Dependencies stay in node_modules except
// commander, which every command needs and which is cheaper to parse inside the bundle.
import { build } from 'esbuild';
import { readFileSync, rmSync, chmodSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const bundled = new Set(['commander']);
const external = Object.keys(pkg.dependencies ?? {})
  .filter((d) => !bundled.has(d))
  .flatMap((d) => [d, `${d}/*`]);

rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { cli: 'src/cli/main.ts', index: 'src/lib/index.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: false,
  jsx: 'automatic',
  external,
  chunkNames: 'chunks/[name]-[hash]',
  // commander is CommonJS: give the ESM bundle a require() for its node: built-ins.
  banner: { js: '#!/usr/bin/env node\nimport{createRequire as __nbcr}from"node:module";const require=__nbcr(import.meta.url);' },
  logLevel: 'warning',
});
chmodSync(new URL('../dist/cli.js', import.meta.url), 0o755);
// Type declarations for the library's users.
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
