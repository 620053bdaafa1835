/**
 * The `noburn` command (package.json bin: dist/cli.cjs). A CommonJS file, because an ES
 * module entry costs Node's ESM loader on every `noburn check`; it runs the CLI bundle
 * (dist/cli-main.cjs, built from main.ts) with its V8 code cache (code-cache.ts).
 */
import { fileURLToPath } from 'node:url';
import { runBundle } from './code-cache.js';

/** The bundle's content hash, set by scripts/build.mjs: a rebuilt bundle never meets an old cache. */
declare const NOBURN_BUNDLE_HASH: string;

// The bundle's dynamic imports (the other commands, remote mode, optional packages) are made
// here; relative ones resolve against dist/, where this file sits beside the bundle.
runBundle(fileURLToPath(new URL('cli-main.cjs', import.meta.url)), NOBURN_BUNDLE_HASH, (specifier) => import(specifier));
