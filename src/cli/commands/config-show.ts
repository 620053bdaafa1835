import { explainConfig } from '../../lib/config.js';
import type { ResolvedSetting } from '../../lib/config.js';
import { redactSecrets } from '../../lib/redact.js';
import { ExitCodes } from '../exit-codes.js';
import { table } from '../format.js';
import type { Output } from '../output.js';
import type { ConfigShowOptions } from '../specs.js';

/** A secret shows only that it is set (an API key keeps its public id before the dot). */
function shown(s: ResolvedSetting): unknown {
  if (s.value === null || s.value === undefined) return null;
  if (s.secret) return typeof s.value === 'string' && s.value.includes('.') ? `${s.value.split('.')[0] ?? ''}.***` : '***';
  return typeof s.value === 'string' ? redactSecrets(s.value) : s.value;
}

/**
 * `noburn config show`: every setting's effective value and where it came from (env, the
 * config file, or the default), secrets redacted. A bad config.json is exit 2, as for
 * every other command.
 */
export function configShowCommand(opts: ConfigShowOptions, out: Output): number {
  const { config, settings, file } = explainConfig();
  const rows = settings.map((s) => ({ key: s.key, value: shown(s), source: s.source, from: s.from, file: s.file, env: s.env }));
  if (opts.json) {
    out.json({ home: config.home, configFile: file, settings: rows });
    return ExitCodes.OK;
  }
  out.out(`home ${config.home}\nconfig file ${file}`);
  out.out(table(['setting', 'value', 'source'], rows.map((r) => [r.key, JSON.stringify(r.value), r.from ? `${r.source} (${r.from})` : r.source])));
  return ExitCodes.OK;
}
