import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Headers pass through untouched (auth, versions, betas, organisation...) except those
 * that belong to one hop of the connection, and Host, which must name the upstream.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  // undici sends bodies itself and does not support Expect: 100-continue.
  'expect',
  // The end user named to noburn (exchange.ts): for noburn only, never for the provider.
  'x-noburn-user',
  // The call's tags (exchange.ts), likewise noburn's only.
  'x-noburn-tags',
]);

export interface ForwardHeaderOptions {
  /** The proxy sends the body as a buffer it may have rewritten; undici sets the length. */
  dropContentLength: boolean;
  /**
   * Ask for an uncompressed response: the proxy must read the usage out of metered
   * responses as they stream. Between the proxy and the client it is loopback anyway.
   */
  identityEncoding: boolean;
  /** The proxy decoded a compressed request body and sends it plain. */
  dropContentEncoding?: boolean;
}

/** The client's raw headers (original case, duplicates kept) as undici's flat [name, value, ...] list. */
export function forwardRequestHeaders(raw: readonly string[], opts: ForwardHeaderOptions): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    if (opts.dropContentLength && lower === 'content-length') continue;
    if (opts.dropContentEncoding === true && lower === 'content-encoding') continue;
    if (opts.identityEncoding && lower === 'accept-encoding') continue;
    out.push(name, raw[i + 1] as string);
  }
  if (opts.identityEncoding) out.push('accept-encoding', 'identity');
  return out;
}

/** The upstream's response headers for the client; content-length goes when the proxy may change the body. */
export function forwardResponseHeaders(headers: IncomingHttpHeaders, bodyMayChange: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    if (bodyMayChange && name === 'content-length') continue;
    out[name] = value;
  }
  return out;
}

export function headerString(v: string | string[] | undefined): string {
  if (v === undefined) return '';
  return (Array.isArray(v) ? v.join(', ') : v).toLowerCase();
}
