import { NoburnValidationError } from './errors.js';

/**
 * Tags: free-form `key=value` labels on a call (check, record, the proxy's x-noburn-tags
 * header, `noburn run --tag`), summed per tag and capped per tag (budget scope "tag").
 *
 * Syntax (the same wherever a tag enters, so a tag means one thing in every store):
 * - key: 1 to 64 of `A-Z a-z 0-9 _ . -`, starting with a letter or digit;
 * - value: 1 to 128 of `A-Z a-z 0-9 _ . - : / @ +`;
 * - at most MAX_TAGS per call, each key once (a call has one value per key, so
 *   `spend --by tag:KEY` puts each call in exactly one group).
 * Case-sensitive. None of these characters is `=` or `,` (the separators of the header and
 * of the stored form) or a SQL quote.
 *
 * Stored form (holds, records, events): the tags sorted by key and joined with `,`
 * ("feature=search,team=core"), NULL when a call has none; a store finds a tag with a
 * substring test on `,` + tags + `,`.
 */
export const MAX_TAGS = 8;
const KEY = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const VALUE = /^[A-Za-z0-9_.:/@+-]{1,128}$/;
const RULE = 'key: 1-64 of A-Z a-z 0-9 _ . - (starting with a letter or digit); value: 1-128 of A-Z a-z 0-9 _ . - : / @ +';

/** Validates one tag key. */
export function tagKey(k: unknown, name = 'tag key'): string {
  if (typeof k !== 'string' || !KEY.test(k)) throw new NoburnValidationError(`${name} ${JSON.stringify(k)} is not valid (${RULE})`);
  return k;
}

/** Validates one `key=value` tag (a tag cap's subject, one element of the header or --tag). */
export function parseTag(s: unknown, name = 'tag'): string {
  if (typeof s !== 'string') throw new NoburnValidationError(`${name} must be a string key=value`);
  const i = s.indexOf('=');
  if (i < 0) throw new NoburnValidationError(`${name} ${JSON.stringify(s)} must be key=value`);
  const k = s.slice(0, i);
  const v = s.slice(i + 1);
  if (!KEY.test(k) || !VALUE.test(v)) throw new NoburnValidationError(`${name} ${JSON.stringify(s)} is not valid (${RULE})`);
  return `${k}=${v}`;
}

/** Sorts and checks a call's tags (`key=value` strings): at most MAX_TAGS, each key once. */
function canonical(tags: string[], name: string): string[] {
  if (tags.length > MAX_TAGS) throw new NoburnValidationError(`${name}: at most ${MAX_TAGS} tags per call (got ${tags.length})`);
  const keys = new Set<string>();
  for (const t of tags) {
    const k = t.slice(0, t.indexOf('='));
    if (keys.has(k)) throw new NoburnValidationError(`${name}: tag key ${JSON.stringify(k)} is given twice (a call has one value per key)`);
    keys.add(k);
  }
  return tags.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A call's tags as the library and the HTTP API take them (`{ feature: 'search' }`), as the
 * sorted `key=value` list the stores keep. Absent, null or `{}`: no tags.
 */
export function normalizeTags(v: unknown, name = 'tags'): string[] {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw new NoburnValidationError(`${name} must be an object of key: value strings`);
  const out: string[] = [];
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val !== 'string') throw new NoburnValidationError(`${name}.${k} must be a string`);
    out.push(parseTag(`${k}=${val}`, 'tag'));
  }
  return canonical(out, name);
}

/**
 * Tags written as text: `feature=search,team=core` (the x-noburn-tags header, a --tag flag;
 * several flags are joined). Empty or blank: none. Spaces around each tag are ignored.
 */
export function parseTagList(parts: readonly string[], name = 'tags'): string[] {
  const out: string[] = [];
  for (const p of parts) {
    for (const t of p.split(',')) {
      const s = t.trim();
      if (s !== '') out.push(parseTag(s, 'tag'));
    }
  }
  return canonical(out, name);
}

/** The sorted list as an object (the public shape). */
export function tagsObject(tags: readonly string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (const t of tags) {
    const i = t.indexOf('=');
    o[t.slice(0, i)] = t.slice(i + 1);
  }
  return o;
}

/** The stored form: joined with `,`, null when none. */
export const storedTags = (tags: readonly string[] | undefined): string | null => (tags === undefined || tags.length === 0 ? null : tags.join(','));

/** The list back from the stored form. */
export const tagsOfStored = (s: string | null | undefined): string[] => (s === null || s === undefined || s === '' ? [] : s.split(','));

/** The key of a `tag:KEY` spend grouping, validated; null for the other groupings. */
export function tagGroupKey(by: string): string | null {
  return by.startsWith('tag:') ? tagKey(by.slice(4), 'by tag:') : null;
}

/**
 * SQL for the value of tag `key` in a row's `tags` column (NULL when the row lacks it), for
 * `spend --by tag:KEY`. `find` is the dialect's substring search (SQLite instr, PostgreSQL
 * strpos; both 1-based, 0 when absent). The key is validated (tagKey): no quote can occur.
 */
export function tagValueSql(key: string, find: 'instr' | 'strpos'): string {
  const k = tagKey(key);
  const x = "(',' || tags || ',')";
  const at = `${find}(${x}, ',${k}=')`;
  const rest = `substr(${x}, ${at} + ${k.length + 2})`;
  return `CASE WHEN ${at} > 0 THEN substr(${rest}, 1, ${find}(${rest}, ',') - 1) END`;
}

/** The per-request header that adds tags to a call (proxy and guard.fetch); read, then removed before the request leaves. */
export const TAGS_HEADER = 'x-noburn-tags';

/**
 * A call's tags from defaults (`noburn run --tag`, guard.fetch's `tags`) and the request's
 * x-noburn-tags header (`feature=search,team=core`): the header's value wins for a key in
 * both. Throws NoburnValidationError on a malformed header (the caller answers 400).
 */
export function mergeTags(defaults: Readonly<Record<string, string>> | undefined, header: string | null | undefined): Record<string, string> | undefined {
  const fromHeader = header === null || header === undefined ? [] : parseTagList([header], TAGS_HEADER);
  if (fromHeader.length === 0) return defaults === undefined ? undefined : { ...defaults };
  return { ...defaults, ...tagsObject(fromHeader) };
}
