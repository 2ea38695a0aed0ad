import { defineConfig } from 'vitest/config';
import { FULL_ONLY, SLOW, SYSTEM_TOOLS } from './test/tiers.js';

// Two tiers (test/tiers.ts says what each runs): `vitest run` is the whole suite,
// `vitest run --mode fast` (npm run test:fast) the one without system tools.
export default defineConfig(({ mode }) => {
  const fast = mode === 'fast';
  return {
    test: {
      include: ['test/**/*.test.ts'],
      exclude: fast ? Object.keys(FULL_ONLY) : [],
      tags: [
        { name: SYSTEM_TOOLS, description: 'needs a tool that scripts/setup-tests.sh installs (full tier only)' },
        { name: SLOW, description: 'covered faster elsewhere (full tier only)' },
      ],
      tagsFilter: fast ? [`!${SYSTEM_TOOLS} && !${SLOW}`] : undefined,
      // The fast tier's budget is two minutes on 2 cores: use both (vitest's default leaves one free).
      maxWorkers: fast ? 2 : undefined,
      // Always set, so the tier is the one chosen here, never one left in the shell.
      env: { TINYTRAIN_TIER: fast ? 'fast' : 'full' },
      // Compiling runtimes (asc) and training take seconds, not milliseconds.
      testTimeout: 180_000,
      hookTimeout: 180_000,
      pool: 'forks',
      isolate: !fast,
      // One build cache per run, shared by every file and CLI run in it (test/support/global-setup.ts).
      globalSetup: ['test/support/global-setup.ts'],
      // The fast tier's in-worker switches (test/support/tier-setup.ts); TINYTRAIN_TEST_CPU_LOG=FILE:
      // each file's CPU seconds, one JSON line per file (test/support/cpu-log.ts).
      setupFiles: ['test/support/tier-setup.ts', 'test/support/cpu-log.ts'],
    },
  };
});
