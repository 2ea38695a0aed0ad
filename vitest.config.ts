import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Compiling runtimes (asc) and training take seconds, not milliseconds.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
  },
});
