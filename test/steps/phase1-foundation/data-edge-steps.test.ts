import { describe, expect, it } from 'vitest';
import { dataEdgeSteps } from '../../../src/steps/phase1-foundation/data-edge-steps.js';
import { STEP } from '../../../src/steps/outputs.js';
import { testConfig } from '../../helpers/context.js';

describe('dataEdgeSteps', () => {
  it('lists the edge steps in registry order with the needs of the step graph', () => {
    expect(dataEdgeSteps.map((s) => [s.id, s.needs])).toEqual([
      [STEP.certificates, []],
      [STEP.frontendBucket, []],
      [STEP.waf, []],
      [STEP.cdn, [STEP.frontendBucket, STEP.waf, STEP.alb, STEP.certificates]],
      [STEP.dns, [STEP.cdn, STEP.alb, STEP.certificates]],
    ]);
    expect(dataEdgeSteps.every((s) => s.phase === 1)).toBe(true);
  });

  it('enables certificates and DNS only with a domain', () => {
    const enabled = (domain: string | null) =>
      dataEdgeSteps
        .filter((s) => s.enabled?.(testConfig({ dns: { domain } })) ?? true)
        .map((s) => s.id);
    expect(enabled(null)).toEqual([STEP.frontendBucket, STEP.waf, STEP.cdn]);
    expect(enabled('shop.example.com')).toHaveLength(5);
  });

  it('describes every step offline and declares its IAM actions', () => {
    for (const config of [testConfig(), testConfig({ dns: { domain: 'shop.example.com' } })]) {
      for (const step of dataEdgeSteps) {
        const lines = step.describe(config);
        expect(lines.length, step.id).toBeGreaterThan(0);
        expect(lines.join('\n'), step.id).not.toMatch(/undefined|\[object/);
        expect(step.actions.length, step.id).toBeGreaterThan(0);
        for (const a of step.actions) expect(a, step.id).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
      }
    }
  });
});
