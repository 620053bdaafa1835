/** The OpenAI/Anthropic-compatible metering proxy used by `noburn run -- CMD` (docs/run.md). */
export { startProxy } from './server.js';
export { DEFAULT_UPSTREAMS, OPENAI_PREFIX, ANTHROPIC_PREFIX } from './routes.js';
export type { ModelStats, ProxyGuard, ProxyOptions, RunningProxy, Upstreams, CountTokens } from './types.js';
