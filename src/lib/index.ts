export { NoburnGuard } from './guard.js';
export type { GuardOptions } from './guard.js';
export * from './errors.js';
export type * from './types.js';
export { resolveConfig } from './config.js';
export type { NoburnConfig, ConfigOverrides, ModelPriceOverride } from './config.js';
export { usdToNano, nanoToUsd, formatUsd } from './money.js';
export type { Period } from './periods.js';
export { estimateTokens } from './tokens.js';
