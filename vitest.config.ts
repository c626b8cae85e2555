import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'backend/test/**/*.test.js'],
    exclude: ['test/reliability/**', '**/node_modules/**'],
    restoreMocks: true,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    testTimeout: 10_000,
  },
});
