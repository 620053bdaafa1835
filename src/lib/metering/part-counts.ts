/**
 * Token counts of request pieces already seen. An agent sends its whole conversation again
 * with every call: counted afresh, a 93k-token history costs 15 ms of tokenizer per call;
 * looked up, well under a millisecond.
 */
import type { CountTokens } from './types.js';

/** Characters of counted pieces kept (about as many bytes: prompt text is mostly one byte a character). */
const MAX_CHARS = 8_000_000;
const MAX_PIECES = 20_000;
/** Pieces up to this long are their own key; a longer one is keyed by its length and ends. */
const SHORT = 64;
const END = 24;

interface Counted {
  piece: string;
  tokens: number;
}

/**
 * A short key: hashing a fresh 10,000-character string (each request's are new strings)
 * costs more than comparing it with the one kept, so a long piece is looked up by its
 * length and ends, then compared whole.
 */
function keyOf(piece: string): string {
  return piece.length <= SHORT ? piece : `${piece.length}\u0000${piece.slice(0, END)}\u0000${piece.slice(-END)}`;
}

/** Least recently used first; a key's pieces (rarely more than one) go together. */
class PartCounts {
  private readonly byKey = new Map<string, Counted[]>();
  private chars = 0;
  private pieces = 0;

  get(key: string, piece: string): number | undefined {
    const bucket = this.byKey.get(key);
    const hit = bucket?.find((c) => c.piece === piece);
    if (!bucket || !hit) return undefined;
    this.byKey.delete(key);
    this.byKey.set(key, bucket);
    return hit.tokens;
  }

  set(key: string, piece: string, tokens: number): void {
    if (piece.length > MAX_CHARS) return;
    const bucket = this.byKey.get(key);
    if (bucket) bucket.push({ piece, tokens });
    else this.byKey.set(key, [{ piece, tokens }]);
    this.chars += piece.length;
    this.pieces++;
    for (const [old, gone] of this.byKey) {
      if (this.chars <= MAX_CHARS && this.pieces <= MAX_PIECES) break;
      this.byKey.delete(old);
      for (const c of gone) this.chars -= c.piece.length;
      this.pieces -= gone.length;
    }
  }
}

/** One memo per counter: a count is the counter's own (tests and callers may pass another). */
const memos = new WeakMap<CountTokens, PartCounts>();

/**
 * The tokens of the pieces, each counted on its own, as OpenAI's counting guide counts each
 * message's content (the framing between them is counted apart, per message).
 */
export async function countParts(pieces: readonly string[], count: CountTokens): Promise<number> {
  let memo = memos.get(count);
  if (!memo) memos.set(count, (memo = new PartCounts()));
  let total = 0;
  for (const piece of pieces) {
    const key = keyOf(piece);
    let n = memo.get(key, piece);
    if (n === undefined) {
      const c = count(piece);
      n = typeof c === 'number' ? c : await c;
      memo.set(key, piece, n);
    }
    total += n;
  }
  return total;
}
