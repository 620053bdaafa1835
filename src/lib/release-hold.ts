import type { NoburnGuard } from './guard.js';

/** Frees the hold of a call that failed before the provider answered (no call counted). */
export function releaseHold(guard: NoburnGuard, reservationId: string | null): void {
  if (reservationId !== null) guard.release(reservationId);
}
