/**
 * The V8 code cache of the CLI bundle. `noburn check` runs before every LLM call, and much of
 * its start-up is V8 compiling the bundle's functions; Node 20 has no module compile cache
 * (`module.enableCompileCache()` is 22.1+). So the bin (bin.ts) compiles the bundle with
 * vm.Script and the bytecode an earlier run saved next to it, under a name keyed by the
 * bundle's build hash, the Node version and the architecture. The cache never fails a
 * command: one that is missing, damaged or rejected by V8 is ignored (and rewritten when the
 * folder is writable; a read-only install just runs without it).
 */
import { accessSync, constants, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

/**
 * What the bundle calls instead of `import()` (scripts/build.mjs renames them, same length so
 * the source map holds): code compiled by vm.Script has no dynamic import on Node 20 without
 * an experimental flag, so the bin, a module Node loaded itself, imports for it.
 */
export const DYNAMIC_IMPORT = '__nbI_';

export type DynamicImport = (specifier: string) => Promise<unknown>;

/** The cache file of `bundle` (its build hash given) for this Node and architecture. */
export function codeCachePath(bundle: string, hash: string): string {
  return `${bundle}.${hash}-${process.version}-${process.arch}.v8cache`;
}

/**
 * The cached bytes, or undefined when the file is missing or not whole. The file holds the
 * cache twice: V8 checks a cache's header (version, flags, source length) but not its
 * payload in release builds, and a damaged payload can crash the process; comparing the two
 * copies is a native memcmp, where a checksum in JavaScript would cost more than it saves.
 */
export function readCodeCache(file: string): Buffer | undefined {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch {
    return undefined;
  }
  const half = buf.length / 2;
  if (half === 0 || !Number.isInteger(half)) return undefined;
  const first = buf.subarray(0, half);
  return first.equals(buf.subarray(half)) ? first : undefined;
}

/**
 * Writes the cache of `bundle` (twice, see readCodeCache) through a temporary file and a
 * rename, so a concurrent reader sees the old file or the new one, never half of one; then
 * removes the caches of other builds or Node versions beside it. False when it could not write.
 */
export function writeCodeCache(bundle: string, hash: string, data: Buffer): boolean {
  const file = codeCachePath(bundle, hash);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, Buffer.concat([data, data]));
    renameSync(tmp, file);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    return false;
  }
  const dir = dirname(bundle);
  const prefix = `${basename(bundle)}.`;
  try {
    for (const name of readdirSync(dir)) {
      if (name.startsWith(prefix) && name.endsWith('.v8cache') && join(dir, name) !== file) unlinkSync(join(dir, name));
    }
  } catch {
    // another process removed it first: stale files only cost disk
  }
  return true;
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs the CommonJS bundle at `bundle` as Node's loader would (exports, require, module,
 * __filename, __dirname), compiled with its code cache when there is a usable one. When
 * there is none, the cache is written as the process exits, so it also holds the functions
 * this run compiled lazily (the ones a command actually runs), not only the top level.
 * Under --enable-source-maps the bundle is required instead: Node 20 maps stack traces of
 * the modules it loads itself, not of vm scripts.
 */
export function runBundle(bundle: string, hash: string, dynamicImport: DynamicImport): void {
  const require = createRequire(bundle);
  if (process.sourceMapsEnabled) {
    (globalThis as Record<string, unknown>)[DYNAMIC_IMPORT] = dynamicImport;
    require(bundle);
    return;
  }
  const source = readFileSync(bundle, 'utf8');
  const cachedData = readCodeCache(codeCachePath(bundle, hash));
  // The wrapper's first line is line -1, so stack traces keep the bundle's own positions.
  const wrapped = `(function (exports, require, module, __filename, __dirname, ${DYNAMIC_IMPORT}) {\n${source}\n})`;
  const script = new Script(wrapped, cachedData === undefined ? { filename: bundle, lineOffset: -1 } : { filename: bundle, lineOffset: -1, cachedData });
  if ((cachedData === undefined || script.cachedDataRejected === true) && writable(dirname(bundle))) {
    process.once('exit', () => writeCodeCache(bundle, hash, script.createCachedData()));
  }
  const fn = script.runInThisContext() as (...args: unknown[]) => void;
  const mod = { exports: {} };
  fn.call(mod.exports, mod.exports, require, mod, bundle, dirname(bundle), dynamicImport);
}
