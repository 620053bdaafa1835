/**
 * The budget lease policy (src/lib/ledger/leases/policy.ts): slice sizing from the key's
 * recent rate, the W raise trigger, and the local deadline of a lease.
 */
import { describe, expect, it } from 'vitest';
import { MAX_SLICE_ESTIMATES, MIN_SLICE_ESTIMATES, RATE_WINDOW_MS, RateWindow, deadlineOf, marginFor, rotateAt, shouldRaise, sliceFor, stepFor } from '../../src/lib/ledger/leases/policy.js';

describe('lease policy', () => {
  it('a slice is about 1 s of the key recent rate (4 windows of 250 ms), in whole estimates', () => {
    // 30 estimates of 7 in the last 250 ms: 4 windows = 840 = 120 estimates.
    expect(sliceFor(30 * 7, 7)).toBe(120 * 7);
    // Rounded up to a whole estimate.
    expect(sliceFor(1000, 300)).toBe(14 * 300);
  });

  it('a slice is bounded below (a key seen once still gets a few estimates) and above', () => {
    expect(sliceFor(0, 5)).toBe(MIN_SLICE_ESTIMATES * 5);
    expect(sliceFor(1e12, 5)).toBe(MAX_SLICE_ESTIMATES * 5);
  });

  it('the rate counts only the last 250 ms', () => {
    const r = new RateWindow();
    r.add(1000, 5);
    r.add(1100, 7);
    expect(r.total(1100)).toBe(12);
    expect(r.total(1000 + RATE_WINDOW_MS)).toBe(7);
    expect(r.total(1100 + RATE_WINDOW_MS)).toBe(0);
  });

  it('W is raised in steps of a quarter slice, at least one estimate, never above the grant', () => {
    expect(stepFor(400, 10)).toBe(100);
    expect(stepFor(20, 10)).toBe(10);
    expect(stepFor(5, 10)).toBe(5);
  });

  it('a raise starts when the approvable headroom drops below half a step, and never past G', () => {
    expect(shouldRaise({ g: 1000, w: 300, approved: 250, step: 100 })).toBe(false); // 50 left: half a step
    expect(shouldRaise({ g: 1000, w: 300, approved: 251, step: 100 })).toBe(true);
    expect(shouldRaise({ g: 300, w: 300, approved: 299, step: 100 })).toBe(false); // W = G: nothing to raise
  });

  it('no approval past the local deadline: send time + TTL - margin (a tenth of the TTL, 200 ms to 5 s)', () => {
    expect(marginFor(30_000)).toBe(3_000);
    expect(marginFor(1_000)).toBe(200);
    expect(marginFor(3_600_000)).toBe(5_000);
    expect(deadlineOf(10_000, 30_000)).toBe(37_000);
    expect(rotateAt(10_000, 30_000)).toBe(25_000);
  });
});
