/** The metering proxy used by `noburn run -- CMD` (docs/run.md); providers come from src/lib/metering/providers. */
export { startProxy } from './server.js';
export { DEFAULT_UPSTREAMS, preconnectOrigins, proxyEnv, upstreamsFromEnv } from './routes.js';
export type { ModelStats, ProxyGuard, ProxyOptions, RunningProxy, Upstreams, CountTokens } from './types.js';
