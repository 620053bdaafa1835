/**
 * Edit distance and "did you mean" for names a user typed: config keys (config-values.ts)
 * and model names (pricing/suggest.ts). Names are short, so the plain O(n*m) table is enough.
 */

/** Levenshtein distance (insert, delete, substitute; each costs 1). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0] as number;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j] as number;
      d[j] = Math.min(cur + 1, (d[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length] as number;
}

/** How far a name may be from what was typed and still be what was meant: 2 edits, or a third of its length. */
export function closeEnough(typed: string): number {
  return Math.max(2, Math.floor(typed.length / 3));
}

/**
 * The known names nearest to `typed` (case-insensitive), closest first, ties in the order
 * given, at most `limit`, none farther than closeEnough(typed). `compareAs` maps a known
 * name to the text compared (a model's name without its `provider:` prefix, say).
 */
export function nearest(typed: string, known: Iterable<string>, opts: { limit?: number; compareAs?: (name: string) => string } = {}): string[] {
  const t = typed.toLowerCase();
  const max = closeEnough(typed);
  const scored: Array<{ name: string; d: number; i: number }> = [];
  let i = 0;
  for (const name of known) {
    const d = editDistance(t, (opts.compareAs ? opts.compareAs(name) : name).toLowerCase());
    if (d <= max) scored.push({ name, d, i });
    i++;
  }
  scored.sort((x, y) => x.d - y.d || x.i - y.i);
  const out: string[] = [];
  for (const s of scored) {
    if (!out.includes(s.name)) out.push(s.name);
    if (out.length === (opts.limit ?? 3)) break;
  }
  return out;
}
