import { randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The per-run secret. The proxy listens on 127.0.0.1, which every local process and user
 * can reach; the base URLs given to the child carry this unguessable path segment
 * (http://127.0.0.1:PORT/SECRET/openai/v1: SDKs keep a base URL's path), and a request
 * without it is refused with 403 before anything is read or forwarded. 144 random bits;
 * the child's environment is readable only by its own user (and root).
 */
export function newProxySecret(): string {
  return randomBytes(18).toString('base64url');
}

/**
 * The request path after the secret segment ('/openai/v1/chat/completions?...'), or null
 * when the URL does not start with /SECRET/ (compared in constant time).
 */
export function stripSecret(url: string, secret: string): string | null {
  const want = Buffer.from(`/${secret}`);
  const got = Buffer.from(url.slice(0, want.length));
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
  const rest = url.slice(want.length);
  if (rest !== '' && rest[0] !== '/' && rest[0] !== '?') return null;
  return rest === '' || rest[0] === '?' ? `/${rest}` : rest;
}
