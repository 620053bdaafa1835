import { resolveConfig } from '../../lib/config.js';
import { NoburnConfigError } from '../../lib/errors.js';
import type { WatchOutcome } from '../../tui/run.js';
import { ExitCodes, exitCodeFor, isErrorCode } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { WatchOptions } from '../specs.js';

/**
 * The exit code of a failed pull: by the error's stable code (whichever copy of the
 * library threw it, so not by `instanceof`), anything else is an internal error.
 */
function syncExitCode(e: unknown): number {
  const code = (e as { code?: unknown } | null)?.code;
  return isErrorCode(code) ? exitCodeFor(code) : ExitCodes.INTERNAL;
}

/** How the dashboard ended, as an exit code (docs/watch.md). */
export function watchExitCode(outcome: WatchOutcome): number {
  switch (outcome.kind) {
    case 'ok':
      return ExitCodes.OK;
    case 'interrupted':
      return ExitCodes.INTERRUPTED;
    case 'ledger-error':
      return ExitCodes.INTERNAL;
    case 'sync-failed':
      return syncExitCode(outcome.error);
  }
}

/**
 * `noburn watch [--remote] [--once] [--json]`: the live dashboard of spend per user and
 * per run. Ink and React are imported here, lazily, and nowhere on any other command's path.
 */
export async function watchCommand(opts: WatchOptions, out: Output): Promise<number> {
  let config = resolveConfig();
  if (opts.remote && config.url === null) {
    throw new NoburnConfigError('--remote needs the server: set NOBURN_URL (and NOBURN_API_KEY)');
  }
  if (opts.remote) {
    // The key names its project: show that one; a contradicting NOBURN_PROJECT_ID is exit 3.
    // (A project from config.json counts as declared unless it is the default's name.)
    const declared = process.env['NOBURN_PROJECT_ID'] || (config.projectId !== 'default' ? config.projectId : null);
    const { remoteProject } = await import('../../lib/remote/mirror-sync.js');
    config = { ...config, projectId: await remoteProject(config, declared) };
  }
  // React's development build checks every render and is several times slower; the
  // dashboard is a product, not a component under development.
  process.env['NODE_ENV'] ??= 'production';
  const { runWatch } = await import('../../tui/run.js');
  return watchExitCode(await runWatch({ config, remote: opts.remote === true, once: opts.once === true, json: opts.json === true, out }));
}
