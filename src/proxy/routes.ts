/**
 * Each adapter has a prefix on the proxy (OpenAI: /openai/v1, Anthropic: /anthropic) that
 * stands for its upstream base, with the same path convention as its SDKs' base URL: the
 * OpenAI SDK expects the version in its base URL and appends "/chat/completions"; the
 * Anthropic SDK appends "/v1/messages" itself. So what follows the prefix is appended to
 * the upstream base unchanged.
 */
import { NoburnConfigError } from '../lib/errors.js';
import { PROVIDERS } from '../lib/metering/providers/index.js';
import type { Endpoint, ProviderAdapter } from '../lib/metering/types.js';
import type { Upstreams } from './types.js';

/** The upstream of every provider when no base-URL variable names one. */
export const DEFAULT_UPSTREAMS: Upstreams = Object.fromEntries(PROVIDERS.map((p) => [p.id, p.defaultUpstream]));

export interface Route {
  provider: ProviderAdapter;
  /** null: pass through without metering. */
  endpoint: Endpoint | null;
  /** scheme://host[:port] of the upstream. */
  origin: string;
  /** Path and query to request at the upstream. */
  path: string;
  /** The path after the prefix (as mapped by the adapter), without the query. */
  rest: string;
  /** The price data's provider for this upstream (pricing), null when it does not know it. */
  priceProvider: string | null;
}

interface Base {
  adapter: ProviderAdapter;
  origin: string;
  path: string;
  priceProvider: string | null;
}

export type RouteTable = readonly Base[];

/** Throws NoburnConfigError (a usage error, exit 2) naming the variable of a bad upstream. */
export function routeTable(upstreams: Upstreams): RouteTable {
  return PROVIDERS.map((adapter) => {
    const raw = upstreams[adapter.id] ?? adapter.defaultUpstream;
    return { adapter, ...splitBase(raw, adapter.baseUrlEnv[0] ?? `the ${adapter.id} upstream`), priceProvider: null };
  });
}

function splitBase(raw: string, name: string): { origin: string; path: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new NoburnConfigError(`${name} must be an http(s) URL (got ${JSON.stringify(raw)})`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new NoburnConfigError(`${name} must be an http(s) URL (got ${JSON.stringify(raw)})`);
  return { origin: u.origin, path: u.pathname.replace(/\/+$/, '') };
}

/** Maps a request URL on the proxy to its upstream, or null for a path outside every prefix. */
export function matchRoute(url: string, table: RouteTable): Route | null {
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  for (const base of table) {
    const prefix = base.adapter.prefix;
    if (pathname !== prefix && !pathname.startsWith(prefix + '/')) continue;
    const given = pathname.slice(prefix.length);
    const rest = base.adapter.upstreamPath ? base.adapter.upstreamPath(given) : given;
    return { provider: base.adapter, endpoint: base.adapter.endpoint(rest), origin: base.origin, path: base.path + rest + query, rest, priceProvider: base.priceProvider };
  }
  return null;
}

/**
 * Fills in each upstream's pricing provider: the price data's provider for its base URL
 * (api.groq.com: groq, openrouter.ai: openrouter...), else the adapter's own id when the
 * upstream is the adapter's default, else none (a local server: priced by model alone).
 */
export async function withPriceProviders(table: RouteTable): Promise<RouteTable> {
  const { providerForUrl } = await import('../lib/pricing/price-data.js');
  return Promise.all(
    table.map(async (b) => {
      const url = b.origin + b.path;
      const known = await providerForUrl(url);
      return { ...b, priceProvider: known ?? (url === b.adapter.defaultUpstream.replace(/\/+$/, '') ? b.adapter.id : null) };
    }),
  );
}

/** The base-URL variables to give a child so that every provider's SDK talks to the proxy at `url`. */
export function proxyEnv(url: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const p of PROVIDERS) for (const name of p.baseUrlEnv) env[name] = url + p.prefix;
  return env;
}

/** The upstreams named by the environment noburn was started with (the first base-URL variable set per provider). */
export function upstreamsFromEnv(env: NodeJS.ProcessEnv): Upstreams {
  const out: Record<string, string> = {};
  for (const p of PROVIDERS) {
    const named = p.baseUrlEnv.map((n) => env[n]).find((v) => v !== undefined && v !== '');
    out[p.id] = named ?? p.defaultUpstream;
  }
  return out;
}

/**
 * The upstream origins worth connecting to before the child's first call: those the
 * environment names (a base-URL variable, an outer run's upstreams), and a provider's
 * default one when its API key variable is set. Not the others: noburn does not open
 * connections to providers the child has no sign of using.
 */
export function preconnectOrigins(upstreams: Upstreams, env: NodeJS.ProcessEnv): string[] {
  const out = new Set<string>();
  for (const p of PROVIDERS) {
    const up = upstreams[p.id] ?? p.defaultUpstream;
    const keyed = (p.apiKeyEnv ?? []).some((n) => (env[n] ?? '') !== '');
    if (up !== p.defaultUpstream || keyed) out.add(new URL(up).origin);
  }
  return [...out];
}
