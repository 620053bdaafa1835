import { NoburnConfigError } from '../lib/errors.js';
import type { EndpointKind, Provider, Upstreams } from './types.js';

/**
 * The child is given OPENAI_BASE_URL = <proxy>/openai/v1 and ANTHROPIC_BASE_URL =
 * <proxy>/anthropic: the OpenAI SDK expects the version in its base URL and appends
 * "/chat/completions"; the Anthropic SDK appends "/v1/messages" itself. Each prefix maps
 * onto the upstream base the same way, so what follows the prefix is appended unchanged.
 */
export const OPENAI_PREFIX = '/openai/v1';
export const ANTHROPIC_PREFIX = '/anthropic';

export const DEFAULT_UPSTREAMS: Upstreams = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};

export interface Route {
  provider: Provider;
  /** null: pass through without metering. */
  kind: EndpointKind | null;
  /** scheme://host[:port] of the upstream. */
  origin: string;
  /** Path and query to request at the upstream. */
  path: string;
}

interface Base {
  origin: string;
  path: string;
}

export interface RouteTable {
  openai: Base;
  anthropic: Base;
}

/** Throws NoburnConfigError (a usage error, exit 2) naming the variable of a bad upstream. */
export function routeTable(upstreams: Upstreams): RouteTable {
  return { openai: splitBase(upstreams.openai, 'OPENAI_BASE_URL'), anthropic: splitBase(upstreams.anthropic, 'ANTHROPIC_BASE_URL') };
}

function splitBase(raw: string, name: string): Base {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new NoburnConfigError(`${name} must be an http(s) URL (got ${JSON.stringify(raw)})`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new NoburnConfigError(`${name} must be an http(s) URL (got ${JSON.stringify(raw)})`);
  return { origin: u.origin, path: u.pathname.replace(/\/+$/, '') };
}

/** Maps a request URL on the proxy to its upstream, or null for a path outside both prefixes. */
export function matchRoute(url: string, table: RouteTable): Route | null {
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  for (const [provider, prefix] of [
    ['openai', OPENAI_PREFIX],
    ['anthropic', ANTHROPIC_PREFIX],
  ] as const) {
    if (pathname !== prefix && !pathname.startsWith(prefix + '/')) continue;
    const rest = pathname.slice(prefix.length);
    const base = table[provider];
    return { provider, kind: endpointKind(provider, rest), origin: base.origin, path: base.path + rest + query };
  }
  return null;
}

/** Which metered shape a path (after the prefix) is; Azure-style deployment paths end the same way. */
export function endpointKind(provider: Provider, rest: string): EndpointKind | null {
  const p = rest.replace(/\/+$/, '');
  if (provider === 'anthropic') return p === '/v1/messages' ? 'messages' : null;
  if (p === '/chat/completions' || p.endsWith('/chat/completions')) return 'chat';
  if (p === '/responses') return 'responses';
  if (p === '/embeddings' || p.endsWith('/embeddings')) return 'embeddings';
  if (p === '/completions' || p.endsWith('/completions')) return 'completions';
  return null;
}
