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
 * table's order. Null: not an LLM call, passed through untouched.
 */
export function matchEndpoint(url: URL, headers: Headers): MatchedEndpoint | null {
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const found: MatchedEndpoint[] = [];
  for (const provider of PROVIDERS) {
    for (let i = 0; i < segments.length; i++) {
      const endpoint = provider.endpoint(`/${segments.slice(i).join('/')}`);
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

function hostOf(base: string): string {
  try {
    return new URL(base).host;
  } catch {
    return '';
  }
}
