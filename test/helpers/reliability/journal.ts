/** What crash-writer.mjs wrote to its journal (complete lines only: a kill may cut the last). */
import { existsSync, readFileSync } from 'node:fs';

export interface JournalRecord {
  model: string;
  tokensIn: number;
  tokensOut: number;
  endUserId: string;
  idempotencyKey: string;
  wasBlocked: boolean;
  costUsd?: number;
  reservationId?: string;
}

export interface Journal {
  /** Every record a writer said it would record, by idempotency key. */
  intents: Map<string, JournalRecord>;
  /** Keys of the batches acknowledged (flush() resolved before the ack was written). */
  acked: Set<string>;
  /** Holds taken and never settled, by reservation id. */
  leaked: string[];
  /** Batches acknowledged by a later writer than the one that promised them (replays after a crash). */
  replayed: Set<string>;
}

export function readJournal(path: string): Journal {
  const j: Journal = { intents: new Map(), acked: new Set(), leaked: [], replayed: new Set() };
  if (!existsSync(path)) return j;
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.pop();
  const batches = new Map<string, JournalRecord[]>();
  const ackedBatches: string[] = [];
  const writerOf = (batch: string) => batch.slice(0, batch.lastIndexOf('.'));
  for (const l of lines) {
    const [tag, id = '', rest = ''] = l.split(' ', 3);
    if (tag === 'I') batches.set(id, JSON.parse(l.slice(3 + id.length)) as JournalRecord[]);
    else if (tag === 'A') {
      ackedBatches.push(id);
      if (rest !== writerOf(id)) j.replayed.add(id);
    }
    else if (tag === 'L') j.leaked.push(rest);
    else throw new Error(`journal line not understood: ${l}`);
  }
  for (const rs of batches.values()) for (const r of rs) j.intents.set(r.idempotencyKey, r);
  for (const id of ackedBatches) {
    const rs = batches.get(id);
    if (!rs) throw new Error(`batch ${id} acknowledged without an intent`);
    for (const r of rs) j.acked.add(r.idempotencyKey);
  }
  return j;
}
