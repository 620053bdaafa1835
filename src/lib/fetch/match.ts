import { PROVIDERS } from '../metering/providers/index.js';
import type { Endpoint, ProviderAdapter } from '../metering/types.js';

export interface MatchedEndpoint {
  provider: ProviderAdapter;
  endpoint: Endpoint;
}

// Headers only one provider's SDKs send: they pick the provider when a path would fit two.
const HEADER_HINTS: ReadonlyArray<readonly [string, string]> = [
  ['anthropic-version', 'anthropic'],
  ['x-goog-api-key', 'google'],
];

/**
 * The provider endpoint a URL calls, whatever the base URL (the provider's own, Azure, a
 * gateway, a local fake): each adapter is asked about every tail of the path (the path
 * after its base is one of them). When several adapters know the path, the one whose
 * default host it is wins, then the one whose SDK headers the request carries, then the
 * table's order. Null: not a metered endpoint (see unmeteredProviderApi).
 */
export function matchEndpoint(url: URL, headers: Headers): MatchedEndpoint | null {
  const tails = tailsOf(url.pathname);
  const found: MatchedEndpoint[] = [];
  for (const provider of PROVIDERS) {
    for (const tail of tails) {
      const endpoint = provider.endpoint(tail);
      if (endpoint) {
        found.push({ provider, endpoint });
        break;
      }
    }
  }
  if (found.length <= 1) return found[0] ?? null;
  const byHost = found.find((m) => hostOf(m.provider.defaultUpstream) === url.host);
  if (byHost) return byHost;
  for (const [header, id] of HEADER_HINTS) {
    if (!headers.has(header)) continue;
    const hinted = found.find((m) => m.provider.id === id);
    if (hinted) return hinted;
  }
  return found[0] ?? null;
}

// Azure OpenAI's hosts (resource.openai.azure.com and the AI Foundry ones) serve the OpenAI API.
const AZURE_OPENAI_HOST = /\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)$/;

/**
 * For a POST that matched no metered endpoint: the provider whose billed API it calls
 * all the same, or null (not an LLM call: passed through). That is a POST to a provider's
 * own host (its default upstream's, Azure OpenAI's) that is not one of its free endpoints
 * (token counting, moderation, files), as the proxy refuses under its prefix; or, on any
 * host, a path the provider bills but noburn cannot price (OpenAI images and audio).
 */
export function unmeteredProviderApi(url: URL): ProviderAdapter | null {
  const tails = tailsOf(url.pathname);
  for (const provider of PROVIDERS) {
    const own = url.host === hostOf(provider.defaultUpstream) || (provider.id === 'openai' && AZURE_OPENAI_HOST.test(url.hostname));
    if (own) return tails.some((t) => provider.freeEndpoint?.(t) === true) ? null : provider;
  }
  return PROVIDERS.find((p) => tails.some((t) => p.unpricedEndpoint?.(t) === true)) ?? null;
}

/** Every tail of a path ('/a/b' -> '/a/b', '/b'): the part after an unknown base is one of them. */
function tailsOf(pathname: string): string[] {
  const segments = pathname.split('/').filter((s) => s !== '');
  return segments.map((_, i) => `/${segments.slice(i).join('/')}`);
}

function hostOf(base: string): string {
  try {
    return new URL(base).host;
  } catch {
    return '';
  }
}
