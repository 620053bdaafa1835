import { resolve } from 'node:path';
import { configPath, explainConfig, readConfigFile, resolveHome } from '../../lib/config.js';
import { ExitCodes } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { ConfigValidateOptions } from '../specs.js';

/**
 * `noburn config validate [FILE]`: checks a config.json (default: the one in $NOBURN_HOME)
 * without using it: JSON, known keys only (with a suggestion for a misspelt one), values
 * in range. Exit 0 when valid; 2 with the one problem found. A missing file is valid (it
 * means "all defaults") unless it was named explicitly.
 */
export function configValidateCommand(file: string | undefined, opts: ConfigValidateOptions, out: Output): number {
  const path = file === undefined ? configPath(resolveHome()) : resolve(file);
  if (file !== undefined) {
    // Read it here so that a missing file named on the command line is an error.
    readConfigFile(path, { mustExist: true });
  }
  // Checks every value through the settings table, as any command would read them.
  explainConfig({}, {}, path);
  const keys = Object.keys(readConfigFile(path));
  if (opts.json) out.json({ valid: true, file: path, keys });
  else out.err(`ok: ${path} (${keys.length === 0 ? 'no settings: all defaults' : keys.join(', ')})`);
  return ExitCodes.OK;
}
