import type { LedgerStore, StoreOp, StoreOpResult } from './store.js';

/**
 * Group commit: items submitted in the same turn of the event loop are decided in one
 * transaction. Order is kept (items are evaluated one after another inside it), so the
 * result is the same as deciding them one by one: exactness does not depend on batching.
 * While a batch is in flight, new items wait and form the next batch, so the batch grows
 * with the time a transaction takes (on PostgreSQL: the project's lock and the WAL flush).
 */
export class GroupCommit<I, O> {
  private queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly run: (items: readonly I[]) => Promise<O[]>,
    private readonly maxBatch = 256,
    private readonly onIdle?: () => void,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const out = await this.run(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(out[i] as O));
      } catch (e) {
        batch.forEach((b) => b.reject(e));
      }
    }
    this.scheduled = false;
    this.onIdle?.();
  }
}

/**
 * One group commit per key (the project): a project's batch never waits for another
 * project's transaction, as each project's decisions are serialised by its own lock anyway.
 * A key's queue is dropped when it drains, so idle projects hold no memory.
 */
export class KeyedGroupCommit<I, O> {
  private readonly groups = new Map<string, GroupCommit<I, O>>();

  constructor(
    private readonly run: (items: readonly I[]) => Promise<O[]>,
    private readonly maxBatch = 256,
  ) {}

  submit(key: string, item: I): Promise<O> {
    let g = this.groups.get(key);
    if (!g) {
      const made: GroupCommit<I, O> = new GroupCommit(this.run, this.maxBatch, () => {
        if (this.groups.get(key) === made) this.groups.delete(key);
      });
      g = made;
      this.groups.set(key, g);
    }
    return g.submit(item);
  }
}

/** A StoreOp's outcome in the ledger's queue: its result, or the error of its own store call. */
export type OpOutcome = StoreOpResult | { kind: 'error'; error: unknown };

/**
 * Runs ops in order on a store without commit(): consecutive checks as one checkBatch,
 * each request's records as one record call. Same result as one by one. These are
 * separate transactions, so a failure is the failure of its own ops only (those before it
 * are committed and keep their results).
 */
export async function commitInOrder(store: LedgerStore, ops: readonly StoreOp[]): Promise<OpOutcome[]> {
  const out: OpOutcome[] = [];
  for (let i = 0; i < ops.length; ) {
    const op = ops[i] as StoreOp;
    if (op.kind === 'record') {
      try {
        out.push({ kind: 'record', result: await store.record(op.records) });
      } catch (error) {
        out.push({ kind: 'error', error });
      }
      i++;
      continue;
    }
    let j = i;
    while (j < ops.length && (ops[j] as StoreOp).kind === 'check') j++;
    const checks = ops.slice(i, j).map((o) => (o.kind === 'check' ? o.check : (undefined as never)));
    try {
      for (const decision of await store.checkBatch(checks)) out.push({ kind: 'check', decision });
    } catch (error) {
      for (let k = i; k < j; k++) out.push({ kind: 'error', error });
    }
    i = j;
  }
  return out;
}
