import { resolveConfig } from '../../lib/config.js';
import type { ModelPriceOverride } from '../../lib/config.js';
import type { PriceInfo } from '../../lib/types.js';
import { ExitCodes } from '../exit-codes.js';
import { table } from '../format.js';
import type { Output } from '../output.js';
import type { PricesListOptions, PricesSetOptions } from '../specs.js';

/** A config price as `prices` shows any price (USD per MTok; null: falls back to the input price). */
function overrideInfo(model: string, o: ModelPriceOverride): PriceInfo {
  return { model, inputPerMTok: o.inputPerMTok, outputPerMTok: o.outputPerMTok, cacheReadPerMTok: o.cacheReadPerMTok ?? null, cacheWritePerMTok: o.cacheWritePerMTok ?? null, source: 'config', matched: null };
}

const REMOTE_NOTE =
  'note: NOBURN_URL is set: the server prices checks and records with its own config.json (noburn prices MODEL shows its price); this one applies only to the decisions made here when the server cannot be reached. Set it on the server host and restart noburn serve';

/**
 * `noburn prices set MODEL --in USD --out USD [--cache-read USD] [--cache-write USD]`: writes
 * `prices.MODEL` into $NOBURN_HOME/config.json (validated whole, replaced by rename; a bad
 * value or a bad file writes nothing, exit 2). docs/cli.md "prices set".
 */
export async function pricesSetCommand(model: string, opts: PricesSetOptions, out: Output): Promise<number> {
  const price: ModelPriceOverride = { inputPerMTok: opts.in, outputPerMTok: opts.out };
  if (opts.cacheRead !== undefined) price.cacheReadPerMTok = opts.cacheRead;
  if (opts.cacheWrite !== undefined) price.cacheWritePerMTok = opts.cacheWrite;
  // Read first: a bad NOBURN_* value or config.json stops here, before any write.
  const cfg = resolveConfig();
  const { setConfigPrice } = await import('../../lib/config-write.js');
  const { file, previous } = setConfigPrice(cfg.home, model, price);
  const info = overrideInfo(model, price);
  if (opts.json) out.json({ ...info, file, previous: previous ?? null });
  else {
    const cache = [price.cacheReadPerMTok === undefined ? '' : `, cache read $${price.cacheReadPerMTok}`, price.cacheWritePerMTok === undefined ? '' : `, cache write $${price.cacheWritePerMTok}`].join('');
    out.err(`${model}: in $${price.inputPerMTok}, out $${price.outputPerMTok}${cache} per MTok (${previous ? 'replaced the price' : 'set'} in ${file})`);
  }
  if (cfg.url !== null) out.err(REMOTE_NOTE);
  await noteTypo(model, Object.keys(cfg.prices), out);
  return ExitCodes.OK;
}

/** A price set for a name the price data lacks but nearly knows may be a typo: say so (the price is set all the same). */
async function noteTypo(model: string, configured: string[], out: Output): Promise<void> {
  const { lookupGenaiPrice } = await import('../../lib/pricing/price-data.js');
  if ((await lookupGenaiPrice(model)).source !== 'unknown') return;
  const { similarModels } = await import('../../lib/pricing/catalogue.js');
  const near = await similarModels(model, configured);
  if (near.length > 0) out.err(`note: ${model} is not in the price data (did you mean ${near.join(', ')}?); its price is set all the same`);
}

/** `noburn prices list [--source override|config|genai-prices]`: config prices first, then the price data. */
export async function pricesListCommand(opts: PricesListOptions, out: Output): Promise<number> {
  const cfg = resolveConfig();
  const rows: PriceInfo[] = [];
  if (opts.source !== 'genai-prices') rows.push(...Object.entries(cfg.prices).map(([m, p]) => overrideInfo(m, p)));
  if (opts.source === undefined || opts.source === 'genai-prices') {
    const { priceDataList } = await import('../../lib/pricing/catalogue.js');
    rows.push(...(await priceDataList()));
  }
  const opt = (v: number | null) => (v === null ? '-' : `$${v}`);
  if (rows.length === 0 && !opts.json) out.err('no price overrides in config (set one: noburn prices set MODEL --in USD --out USD)');
  else {
    const text = opts.json
      ? JSON.stringify(rows, null, 2)
      : table(['MODEL', 'INPUT', 'OUTPUT', 'CACHE READ', 'CACHE WRITE', 'SOURCE'], rows.map((p) => [p.model, `$${p.inputPerMTok}`, `$${p.outputPerMTok}`, opt(p.cacheReadPerMTok), opt(p.cacheWritePerMTok), p.source]));
    // The whole list is long: written with backpressure, and a reader that stops early
    // (`| head`) ends the command quietly instead of an EPIPE crash.
    try {
      await out.write(`${text}\n`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPIPE') return ExitCodes.OK;
      throw e;
    }
  }
  if (!opts.json && rows.length > 0) out.err('USD per million tokens; a config price wins over the price data');
  if (cfg.url !== null) out.err('note: NOBURN_URL is set: these are the local prices; the server prices with its own config.json');
  return ExitCodes.OK;
}
