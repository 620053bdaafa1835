import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    exclude: ['test/torture/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // CI=false: Ink renders nothing but the last frame when it believes it runs in CI, and the
    // TUI tests read frames as they are drawn (CI itself sets CI=true).
    env: { TZ: 'UTC', FORCE_COLOR: '0', CI: 'false' },
  },
});
