import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Check, Criterion } from '../../src/engine/step.js';
import { renderText, type VerifyReport } from '../../src/verify/report.js';
import { score } from '../../src/verify/rubric.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';

const DENIED =
  'Run "cloudmart policy" for the IAM policy the operator needs, attach it, then run the command again.';

/** Every call denied: each check unknown, with the same fix. */
function deniedReport(n: number): VerifyReport {
  const criteria: Criterion[] = [
    'multi-az',
    'security-design',
    'alarms',
    'encryption',
    'dashboard',
  ];
  const checks = Array.from({ length: n }, (_, i) => ({
    id: `check.${i}`,
    title: `Check ${i}`,
    criterion: criteria[i % criteria.length]!,
    status: 'unknown' as const,
    evidence: 'AccessDenied',
    fix: DENIED,
    step: 'x',
  })) satisfies Array<Check & { step: string }>;
  return {
    stack: 'cloudmart',
    region: 'ap-northeast-2',
    at: 'now',
    checks,
    score: score(checks),
    ok: false,
  };
}

describe('verify in the terminal', () => {
  it('puts the score on the second line and says a fix shared by many checks once', () => {
    const lines = renderText(deniedReport(100));
    expect(lines[1]).toMatch(
      /^Score: 0\/100 — grade F \(0 passed, 0 failed, 0 warnings, 100 not known\)$/,
    );
    expect(lines.filter((l) => l.includes(DENIED))).toHaveLength(1);
    expect(lines.find((l) => l.includes(DENIED))).toMatch(/\(100 checks\)$/);
  });

  it('keeps a fix under its check when it is not shared', () => {
    const r = deniedReport(2);
    r.checks[1] = { ...r.checks[1]!, fix: 'cloudmart up --phase 2' };
    const lines = renderText(r);
    const i = lines.findIndex((l) => l.includes('Check 1 —'));
    expect(lines[i + 1]).toBe('      fix: cloudmart up --phase 2');
  });
});

describe('verify of a stack never built', () => {
  let cloud: FakeCloud;
  beforeEach(async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
  });
  afterEach(() => cloud.uninstall());

  it('says so and asks AWS nothing (exit 1)', async () => {
    const io = recordingIo();
    const code = await main(
      ['node', 'cloudmart', 'verify', '--state', join(tempDir(), 's.json')],
      io,
    );
    expect(code).toBe(1);
    expect(io.text()).toContain('is recorded as built');
    expect(io.text()).toContain('cloudmart up');
    expect(cloud.calls).toEqual([]);
  });
});
