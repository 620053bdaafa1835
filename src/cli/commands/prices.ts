import { ExitCodes } from '../exit-codes.js';
import { withGuard } from '../guard.js';
import type { Output } from '../output.js';
import type { PricesOptions } from '../specs.js';

/** `noburn prices MODEL`: the price noburn will use and where it comes from (`prices set` and `prices list`: prices-set.ts). */
export async function pricesCommand(model: string | undefined, opts: PricesOptions, out: Output): Promise<number> {
  if (model === undefined) {
    // Without a model: the configured overrides (the price data itself is too large to list usefully).
    const { resolveConfig } = await import('../../lib/config.js');
    const cfg = resolveConfig();
    if (opts.json) out.json({ overrides: cfg.prices, fallbackPrice: cfg.fallbackPrice, unknownModel: cfg.unknownModel });
    else {
      const names = Object.keys(cfg.prices);
      out.out(names.length ? names.map((m) => `${m}: in $${cfg.prices[m]?.inputPerMTok}/MTok, out $${cfg.prices[m]?.outputPerMTok}/MTok (config)`).join('\n') : 'no price overrides in config (noburn prices set MODEL --in USD --out USD)');
      out.err(`unknown models: ${cfg.unknownModel}${cfg.fallbackPrice ? ' (fallback price set)' : ''}. Give a model name to see its price: noburn prices gpt-4o`);
    }
    return ExitCodes.OK;
  }
  const p = await withGuard((g) => g.price(model));
  if (opts.json) out.json(p);
  if (p.source === 'unknown') {
    if (!opts.json) out.err(`no price known for ${model}: checks for it are blocked (unknown_model_price) unless config sets unknownModel "allow", a fallbackPrice, or a price (noburn prices set ${model} --in USD --out USD)`);
    const { resolveConfig } = await import('../../lib/config.js');
    const { didYouMeanLine } = await import('../../lib/pricing/catalogue.js');
    const line = await didYouMeanLine(model, Object.keys(resolveConfig().prices));
    if (line !== null) out.err(`  ${line}`);
    return ExitCodes.NOT_FOUND;
  }
  if (opts.json) return ExitCodes.OK;
  const opt = (v: number | null) => (v === null ? '-' : `$${v}`);
  out.out(
    [
      `model        ${p.model}${p.matched ? ` (matched ${p.matched})` : ''}`,
      `input        $${p.inputPerMTok} / MTok`,
      `output       $${p.outputPerMTok} / MTok`,
      `cache read   ${opt(p.cacheReadPerMTok)} / MTok`,
      `cache write  ${opt(p.cacheWritePerMTok)} / MTok`,
      `source       ${p.source}`,
    ].join('\n'),
  );
  return ExitCodes.OK;
}
