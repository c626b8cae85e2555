import { defineConfig } from 'vitest/config';

/**
 * The browser test of the hand-in report (`npm run test:browser`): Debian's Chromium opens the
 * generated index.html headless. Kept out of `npm test`, which stays fast and needs no browser.
 */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
