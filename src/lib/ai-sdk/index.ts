// `noburn/ai-sdk`: the Vercel AI SDK middleware. `ai` is an optional peer dependency:
// only its types are used here, and the core package (`noburn`) never imports this file.
export { noburnMiddleware } from './middleware.js';
export type { NoburnMiddlewareOptions } from './middleware.js';
export { NoburnBlockedError } from '../errors.js';
export { readUsage as readAiSdkUsage } from './usage.js';
