import { defineConfig } from 'vitest/config';

// The fault suite (`npm run test:faults`): real processes, real outages and kills. Files run one
// after the other (each starts its own control planes and agents); inside a file, scenarios marked
// concurrent share the two cores. Each scenario enforces its own time limit (test/faults/harness/scenario.ts).
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxConcurrency: 6,
    testTimeout: 300_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    globalSetup: ['test/faults/harness/global-setup.ts'],
    reporters: ['default'],
  },
});
