import { defineConfig } from 'vitest/config';

/**
 * The reliability suite (`npm run test:reliability`): crash anywhere, injected faults, bad
 * input, secrets, concurrent runs. Slower than the unit tests, so kept apart, but bounded:
 * every test has its own timeout and the whole suite runs in a couple of minutes.
 */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    restoreMocks: true,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 120_000,
    // The files wait on file writes, child processes and real sleeps more than they compute:
    // run up to four at once even on a 2-CPU CI machine.
    maxWorkers: 4,
    hookTimeout: 60_000,
    // Keep the figures each test prints visible in CI logs.
    silent: false,
    reporters: ['default'],
  },
});
