import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { configPath, explainConfig, readConfigFile } from './config.js';
import { prices as parsePrices } from './config-values.js';
import type { ModelPriceOverride } from './config-values.js';
import { NoburnStoreError } from './errors.js';

/**
 * Writes `prices.<model>` into $NOBURN_HOME/config.json (`noburn prices set`): the one file
 * every command reads, so the price applies to the next command without a restart. The
 * file is checked whole before anything is written (a bad file stays as it is, untouched),
 * the new entry replaces any old one for that model, every other key is kept, and the new
 * file replaces the old by rename, so a reader sees the old file or the new one, never
 * half of one. Two writers at once: the last rename wins (one update may be lost).
 */
export function setConfigPrice(home: string, model: string, price: ModelPriceOverride): { file: string; previous: ModelPriceOverride | null } {
  const file = configPath(home);
  // Every value checked as any command would read it (throws NoburnConfigError: exit 2).
  explainConfig({ home }, {}, file);
  const raw = readConfigFile(file);
  const current = parsePrices(raw['prices'], 'prices') ?? {};
  const next = { ...raw, prices: { ...(raw['prices'] as Record<string, unknown> | undefined), [model]: price } };
  parsePrices(next.prices, 'prices');
  writeAtomically(file, `${JSON.stringify(next, null, 2)}\n`);
  return { file, previous: current[model] ?? null };
}

/** The old file's permissions, else owner-only (config.json may hold an API key). */
function modeOf(file: string): number {
  try {
    return statSync(file).mode & 0o777;
  } catch {
    return 0o600;
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    const fd = openSync(tmp, 'wx', modeOf(file));
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // the folder itself is unusable (not a directory): there is no temporary file
    }
    throw new NoburnStoreError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
}
