/** The JSON the store's PL/pgSQL functions read and return, and its mapping to store types. */
import { newId } from '../../ids.js';
import type * as S from '../store.js';
import { windowsAt } from './reads.js';

export interface DecisionJson {
  blocked: boolean;
  reason: S.StoreDecision['blockReason'];
  id: string | null;
  rem: S.StoreDecision['remainingNano'];
  /** The ref of the blocked check's event; absent when allowed. */
  dec?: string;
  est?: number;
  tout?: number;
  clamped?: boolean;
  max?: number | null;
  limit?: { scope: 'project' | 'user' | 'run' | 'model' | 'tag'; capNano: number; spentNano: number; heldNano: number } | null;
}

/** A check as nb_decide reads it. Ids are made here (same generator as SQLite); the function uses them only if it holds / blocks. */
export function checkPayload(c: S.StoreCheck): object {
  return { ...c, forceBlock: c.forceBlock ?? null, windows: windowsAt(c.now), reservationId: newId('res'), decisionId: newId('dec') };
}

export function recordPayload(r: S.StoreRecord): object {
  return { ...r, windows: windowsAt(r.ts) };
}

export function decisionOfJson(d: DecisionJson): S.StoreDecision {
  return {
    blocked: d.blocked,
    blockReason: d.reason,
    reservationId: d.id,
    remainingNano: d.rem,
    ...(d.dec === undefined ? {} : { decisionId: d.dec }),
    estimateNano: d.est,
    tokensOut: d.tout,
    clamped: d.clamped === true,
    maxTokensOut: d.max ?? null,
    limit: d.limit ? { scope: d.limit.scope, capNano: Number(d.limit.capNano), spentNano: Number(d.limit.spentNano), heldNano: Number(d.limit.heldNano) } : null,
  };
}
