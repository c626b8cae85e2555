import { afterEach, describe, expect, it } from 'vitest';
import { runUp, runVerify } from '../../src/engine/engine.js';
import type { Step } from '../../src/engine/step.js';
import { fakeLoad } from '../helpers/load-result.js';
import { STEP } from '../../src/steps/outputs.js';
import { makeLoadTestStep } from '../../src/steps/phase5-validation/load-test.js';
import { registry } from '../../src/steps/registry.js';
import { STEP_CRITERIA, stepCriteria } from '../../src/verify/rubric.js';
import { verifyStack } from '../../src/verify/run.js';
import { testConfig } from '../helpers/context.js';
import { engineFor } from '../helpers/engine.js';
import { FakeCloud, faults } from '../helpers/fake-cloud/index.js';

/**
 * A step whose verify throws stands for one `unknown` check per criterion it reports on. These
 * tests keep the declared criteria honest against what each step really reports on a built
 * stack, and show that a throwing verify costs points.
 */

const STEPS: Step[] = registry
  .filter((s) => s.id !== STEP.drills)
  .map((s) => (s.id === STEP.load ? (makeLoadTestStep(fakeLoad) as Step) : s));

let cloud: FakeCloud | undefined;
afterEach(() => cloud?.uninstall());

async function builtStack(overrides: Parameters<typeof testConfig>[0] = {}) {
  cloud = await new FakeCloud({ mode: 'instant' }).install();
  const engine = await engineFor(STEPS);
  Object.assign(engine.options, {
    config: testConfig(overrides),
    sleep: cloud.sleep,
    now: cloud.now,
  });
  const up = await runUp(engine.options);
  expect(up.failed).toEqual([]);
  return { cloud, ...engine };
}

describe('criteria a step reports on', () => {
  it('every step of the registry has them', () => {
    for (const s of registry) expect(stepCriteria(s).length, s.id).toBeGreaterThan(0);
    expect(Object.keys(STEP_CRITERIA).sort()).toEqual(Object.values(STEP).sort());
  });

  it.each([
    ['without a domain', {}],
    ['with a domain', { dns: { domain: 'shop.example.com', createHostedZone: true } }],
  ] as const)('cover what each step reports on a built stack (%s)', async (_, overrides) => {
    const { options } = await builtStack(overrides);
    const { checks, errors } = await runVerify(options);
    expect([...errors.keys()]).toEqual([]);
    const byStep = new Map(STEPS.map((s) => [s.id, s]));
    const undeclared = checks
      .filter((c) => !stepCriteria(byStep.get(c.step)!).includes(c.criterion))
      .map((c) => `${c.step}: ${c.criterion} (${c.id})`);
    expect(undeclared).toEqual([]);
  });

  it('a step whose verify throws loses the points of the items it feeds, with the reason', async () => {
    const { options, cloud } = await builtStack();
    const before = await verifyStack(options);
    cloud.onCall((e) => {
      if (e.phase === 'before' && e.command === 'DescribeReplicationGroups')
        throw faults.serverError('elasticache');
    });

    const after = await verifyStack(options);

    const unknown = after.checks.filter((c) => c.step === STEP.redis);
    expect(unknown.map((c) => [c.id, c.status])).toEqual(
      STEP_CRITERIA[STEP.redis].map((c) => [`${STEP.redis}.verify.${c}`, 'unknown']),
    );
    expect(after.ok).toBe(false);
    const item = (s: typeof before, criterion: string) =>
      s.score.items.find((i) => i.criterion === criterion)!;
    for (const criterion of ['multi-az', 'security-design']) {
      expect(item(after, criterion).earned, criterion).toBeLessThan(item(before, criterion).earned);
      expect(
        item(after, criterion).lost.some((l) => /could not be checked/.test(l.reason) && l.fix),
      ).toBe(true);
    }
    expect(after.score.total).toBeLessThan(before.score.total);
  });
});
