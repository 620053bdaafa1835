/**
 * What the `noburn run` suites share: the built CLI (a private copy of dist/), and per test
 * fake upstreams and homes that are closed and removed after it, so no suite repeats the
 * lifecycle.
 */
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { NoburnGuard } from '../../src/lib/guard.js';
import type { RunInfo } from '../../src/lib/types.js';
import { startFakeUpstream, type FakeUpstream } from '../fixtures/fake-upstream.js';
import { REPO_ROOT, useDist, type Dist } from '../helpers/cli.js';
import { makeHome, type TestPrice } from '../proxy/helpers.js';

/** The child programs `noburn run` wraps in these suites. */
export const FIXTURES = join(REPO_ROOT, 'test/run/fixtures');

export type TestHome = ReturnType<typeof makeHome>;

export interface RunSuite {
  readonly dist: Dist;
  /** A fake upstream for this test, closed after it. */
  upstream(opts?: Parameters<typeof startFakeUpstream>[0]): Promise<FakeUpstream>;
  /** A home with a config of test prices for this test, removed after it. */
  home(prices?: Record<string, TestPrice>): TestHome;
}

/** Call at the top of a test file. */
export function useRunSuite(): RunSuite {
  const dist = useDist();
  const upstreams: FakeUpstream[] = [];
  const homes: TestHome[] = [];
  afterEach(async () => {
    for (const u of upstreams.splice(0)) await u.close();
    for (const h of homes.splice(0)) h.cleanup();
  });
  return {
    dist,
    async upstream(opts) {
      const u = await startFakeUpstream(opts);
      upstreams.push(u);
      return u;
    },
    home(prices) {
      const h = makeHome(prices);
      homes.push(h);
      return h;
    },
  };
}

/** A run as the ledger in `home` has it, read through the library. */
export async function readRun(home: string, runId: string): Promise<RunInfo> {
  const guard = new NoburnGuard({ home, env: {} });
  try {
    return await guard.getRun(runId);
  } finally {
    await guard.close();
  }
}
