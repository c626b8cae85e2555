import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'backend/test/**/*.test.js'],
    exclude: ['test/reliability/**', '**/node_modules/**'],
    restoreMocks: true,
    // Every AWS request a test sends and every fake-cloud answer, checked against AWS's model.
    setupFiles: ['test/helpers/aws-models/setup.ts'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 10_000,
  },
});
