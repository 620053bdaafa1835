import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/torture/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    env: { TZ: 'UTC', FORCE_COLOR: '0' },
  },
});
