import type { StoreCheck, StoreDecision } from '../store.js';
import { LeaseManager } from './manager.js';
import type { LeasePort } from './port.js';

/**
 * What is left under each cap as the holder of a run's lease sees it: the grant's figures
 * count the whole slice as held; the part not approved yet is the run's own room, not spend by others.
 */
export function withLeaseRoom(d: StoreDecision): StoreDecision {
  const free = d.leaseFreeNano ?? 0;
  if (free <= 0) return d;
  const rem: StoreDecision['remainingNano'] = {};
  for (const [k, v] of Object.entries(d.remainingNano) as [keyof StoreDecision['remainingNano'], number][]) rem[k] = v + free;
  return { ...d, remainingNano: rem };
}

/** Grants, raises and ends in memory: a manager's own path, rehearsed with no store. */
const REHEARSAL_PORT: LeasePort = {
  holder: 'rehearsal',
  ttlMs: 30_000,
  grant: (req) => Promise.resolve({ leaseId: 'L_rehearsal', secret: 'rehearsal', granted: req.want, w: req.w0, remainingNano: {}, limit: null }),
  raise: (_id, want) => Promise.resolve(want),
  end: () => Promise.resolve(),
};

/**
 * Decides `c` a few times on a manager of its own over REHEARSAL_PORT (a grant behind the
 * first, approvals, a raise): the code a long-lived process's first leased calls run is
 * compiled before them. Nothing is written; the real manager is untouched.
 */
export async function rehearseLeaseDecisions(c: StoreCheck): Promise<StoreDecision[]> {
  const m = new LeaseManager(REHEARSAL_PORT, () => c.now, { runs: 'owned', grantBehind: true });
  if (c.runId !== null) m.ownRun(c.runId);
  const out: StoreDecision[] = [];
  for (let i = 0; i < 4; i++) {
    const d = await m.decide(c);
    if (d) out.push(withLeaseRoom(d));
  }
  await m.close();
  return out;
}
