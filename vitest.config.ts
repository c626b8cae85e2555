import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'backend/test/**/*.test.js'],
    exclude: ['test/reliability/**', '**/node_modules/**'],
    restoreMocks: true,
    testTimeout: 10_000,
  },
});
