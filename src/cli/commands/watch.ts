import { resolveConfig } from '../../lib/config.js';
import { NoburnConfigError } from '../../lib/errors.js';
import type { Output } from '../output.js';

export interface WatchOptions {
  remote?: boolean;
  once?: boolean;
  json?: boolean;
}

/**
 * `noburn watch [--remote] [--once] [--json]`: the live dashboard of spend per user and
 * per run. Ink and React are imported here, lazily, and nowhere on any other command's path.
 */
export async function watchCommand(opts: WatchOptions, out: Output): Promise<number> {
  const config = resolveConfig();
  if (opts.remote && config.url === null) {
    throw new NoburnConfigError('--remote needs the server: set NOBURN_URL (and NOBURN_API_KEY)');
  }
  // React's development build checks every render and is several times slower; the
  // dashboard is a product, not a component under development.
  process.env['NODE_ENV'] ??= 'production';
  const { runWatch } = await import('../../tui/run.js');
  return runWatch({ config, remote: opts.remote === true, once: opts.once === true, json: opts.json === true, out });
}
