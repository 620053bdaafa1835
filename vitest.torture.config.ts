import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/torture/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    // CI=false: Ink renders nothing but the last frame when it believes it runs in CI, and the
    // TUI tests read frames as they are drawn (CI itself sets CI=true).
    env: { TZ: 'UTC', FORCE_COLOR: '0', CI: 'false' },
  },
});
