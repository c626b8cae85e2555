import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'backend/test/**/*.test.js'],
    // The reliability suite and the browser test have their own commands (test:reliability,
    // test:browser): npm test needs no browser and stays deterministic on a busy machine.
    exclude: ['test/reliability/**', 'test/browser/**', '**/node_modules/**'],
    restoreMocks: true,
    // Every AWS request a test sends and every fake-cloud answer, checked against AWS's model.
    setupFiles: ['test/helpers/aws-models/setup.ts'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 10_000,
  },
});
