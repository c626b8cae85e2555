import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, expect } from 'vitest';
import {
  enableChecks,
  formatFinding,
  instrumentSendStub,
  stats,
  takePending,
  type Finding,
} from './check.js';
import { SERVICE_OF_CLIENT } from './models.js';

/**
 * Vitest setup file (vitest.config.ts `setupFiles`): checks every AWS command any test sends
 * against AWS's own API model, and every fake-cloud answer against the output shape; a test
 * that sent or received something AWS would not is failed, naming the step, the command and
 * the member. With CLOUDMART_AWS_MODELS_REPORT=<dir>, each test file also writes its counts
 * there for `npm run check:aws-models`.
 */

// The sinon that aws-sdk-client-mock uses (the same module instance, whatever the hoisting).
const requireFromMock = createRequire(
  createRequire(import.meta.url).resolve('aws-sdk-client-mock'),
);
const sinon = requireFromMock('sinon') as { stub: (...args: unknown[]) => unknown };
const PATCHED = Symbol.for('cloudmart.aws-models.sinon-patched');
const patchable = sinon as unknown as Record<PropertyKey, unknown>;
if (!patchable[PATCHED]) {
  patchable[PATCHED] = true;
  const stub = sinon.stub;
  sinon.stub = function (this: unknown, ...args: unknown[]) {
    const result = stub.apply(this, args);
    const [object, property] = args as [{ constructor?: { name?: string } } | undefined, unknown];
    const service = SERVICE_OF_CLIENT[object?.constructor?.name ?? ''];
    if (property === 'send' && service)
      instrumentSendStub(service, result as Record<PropertyKey, unknown>);
    return result;
  };
}

enableChecks();

/** Per test: whatever it sent or the fake answered that AWS's model refuses fails it. */
// CLOUDMART_AWS_MODELS_STRICT=0 only reports (npm run check:aws-models still counts them).
const strict = process.env.CLOUDMART_AWS_MODELS_STRICT !== '0';

beforeEach(() => {
  takePending();
});

afterEach(() => {
  const found = takePending();
  if (found.length === 0 || !strict) return;
  const lines = [...new Set(found.map(formatFinding))];
  throw new Error(
    `AWS's API model (../shared/aws-models) refuses ${lines.length} thing(s) this test sent or the fake cloud answered:\n  ` +
      lines.slice(0, 20).join('\n  ') +
      (lines.length > 20 ? `\n  … and ${lines.length - 20} more` : ''),
  );
});

afterAll(() => {
  const dir = process.env.CLOUDMART_AWS_MODELS_REPORT;
  if (!dir) return;
  const s = stats();
  mkdirSync(dir, { recursive: true });
  const file = expect.getState().testPath ?? 'unknown';
  const report = {
    file,
    requests: s.requests,
    answers: s.answers,
    operations: [...s.operations],
    paginated: [...s.paginated],
    findings: s.findings satisfies Finding[],
  };
  writeFileSync(
    join(dir, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`),
    JSON.stringify(report),
  );
  // Counted once: the next file in this worker starts from zero.
  s.requests = 0;
  s.answers = 0;
  s.operations.clear();
  s.paginated.clear();
  s.findings.length = 0;
});
