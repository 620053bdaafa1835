/** Prices in USD per million tokens; whole numbers keep every per-token cost a whole number of nano-dollars. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeUsage } from '../fixtures/fake-upstream.js';

export interface TestPrice {
  inputPerMTok: number;
  outputPerMTok: number;
  cacheReadPerMTok?: number;
  cacheWritePerMTok?: number;
}

export const PRICES: Record<string, TestPrice> = {
  'gpt-4o-mini': { inputPerMTok: 2, outputPerMTok: 8, cacheReadPerMTok: 1 },
  'claude-sonnet-4-5': { inputPerMTok: 3, outputPerMTok: 15, cacheReadPerMTok: 1, cacheWritePerMTok: 4 },
  'text-embedding-3-small': { inputPerMTok: 1, outputPerMTok: 0 },
};

/** A fresh NOBURN_HOME with a config.json that fixes the prices. */
export function makeHome(prices: Record<string, TestPrice> = PRICES): { home: string; cleanup(): void } {
  const home = mkdtempSync(join(tmpdir(), 'noburn-proxy-'));
  writeFileSync(join(home, 'config.json'), JSON.stringify({ prices }), { mode: 0o600 });
  return { home, cleanup: () => rmSync(home, { recursive: true, force: true }) };
}

/** The exact cost of a usage at the test prices, in nano-dollars (1 USD/MTok = 1000 nano per token). */
export function costNano(model: string, u: FakeUsage, prices: Record<string, TestPrice> = PRICES): number {
  const p = prices[model];
  if (!p) throw new Error(`no test price for ${model}`);
  const plain = u.tokensIn - u.cachedTokensIn - u.cacheWriteTokensIn;
  return (
    1000 *
    (plain * p.inputPerMTok +
      u.cachedTokensIn * (p.cacheReadPerMTok ?? p.inputPerMTok) +
      u.cacheWriteTokensIn * (p.cacheWritePerMTok ?? p.inputPerMTok) +
      u.tokensOut * p.outputPerMTok)
  );
}

export const toNano = (usd: number): number => Math.round(usd * 1e9);
