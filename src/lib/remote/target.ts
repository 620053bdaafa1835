/**
 * Where queued records belong (docs/library.md "Outbox"): a server, spelt one way, and a
 * project. Not the URL string and the key: `http://127.0.0.1:8787/`, `http://localhost:8787`
 * and `http://[::1]:8787` are one server, and a rotated key of the same project must still
 * deliver what the old one queued.
 */
import { createHash } from 'node:crypto';
import type { OutboxWarning } from '../record-queue.js';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * The server of a NOBURN_URL, normalized: lower-case scheme and host, loopback names as
 * 127.0.0.1, no default port, no credentials, no trailing slash. A path prefix is kept
 * (two servers behind one reverse proxy are two servers).
 */
export function serverKey(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.trim().replace(/\/+$/, '');
  }
  const host = LOOPBACK.has(u.hostname.toLowerCase()) || /^127\./.test(u.hostname) ? '127.0.0.1' : u.hostname.toLowerCase();
  const port = u.port === '' ? '' : `:${u.port}`; // URL already drops the scheme's default port
  const path = u.pathname.replace(/\/+$/, '');
  return `${u.protocol}//${host}${port}${path}`;
}

/** A short fingerprint of an API key (never the key): which key queued a row whose project is not known yet. */
export function keyFingerprint(apiKey: string | null): string {
  return createHash('sha256')
    .update(apiKey ?? '')
    .digest('hex')
    .slice(0, 16);
}

/** The outbox row target: server and project. */
export function targetFor(server: string, projectId: string): string {
  return `${server}#${projectId}`;
}

/** Rows queued before this client learnt the key's project: resolved by the first answer for that key. */
export function unresolvedTarget(server: string, fp: string): string {
  return `${server}#?${fp}`;
}

/** What older versions keyed rows by: sha256(url + key). Rows with it are re-filed on open. */
export function legacyTarget(url: string | null, apiKey: string | null): string {
  return createHash('sha256')
    .update(`${url ?? ''}\n${apiKey ?? ''}`)
    .digest('hex')
    .slice(0, 32);
}

/** Splits a target into its server and project (null while unresolved). */
export function parseTarget(t: string): { server: string; projectId: string | null } {
  const i = t.indexOf('#'); // a server never holds '#' (no fragment); a project may
  if (i < 0) return { server: '(an older noburn)', projectId: null };
  const p = t.slice(i + 1);
  return { server: t.slice(0, i), projectId: p.startsWith('?') ? null : p };
}

/** What to say about `n` rows in the outbox at `path` that wait for another target than this client's. */
export function strayWarning(target: string, n: number, path: string): OutboxWarning {
  const { server, projectId } = parseTarget(target);
  const whose = projectId === null ? 'a key whose project this machine never learnt' : `project ${JSON.stringify(projectId)}`;
  const message =
    `${n} record${n === 1 ? '' : 's'} in ${path} wait for ${server}, ${whose}, which this client no longer sends to ` +
    '(NOBURN_URL or NOBURN_API_KEY changed); they are delivered by a client with that server and a key of that project';
  return { code: 'NOBURN_OUTBOX_WAITING', server, projectId, count: n, message };
}
