export { NoburnGuard } from './guard.js';
export type { GuardOptions } from './guard.js';
export type { GuardFetch, GuardFetchOptions, UnmeteredCounts } from './fetch/guard-fetch.js';
export type { FlushResult, OutboxWarning } from './record-queue.js';
export * from './errors.js';
export type * from './types.js';
export { resolveConfig } from './config.js';
export type { NoburnConfig, ConfigOverrides, ModelPriceOverride } from './config.js';
export { usdToNano, nanoToUsd, formatUsd } from './money.js';
export type { Period } from './periods.js';
export { estimateTokens } from './tokens.js';
// The metering core: provider adapters, request estimates, usage readers, stream meters.
export { estimateRequest, meterResponse, ResponseMeter, PROVIDERS, providerById, openaiUsage, anthropicUsage } from './metering/index.js';
export type { RequestEstimate, MeteredResponse, MeterOptions, ProviderAdapter, Endpoint, EndpointKind, Usage, TokenEstimate, StreamUsage } from './metering/index.js';
