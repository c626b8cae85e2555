import { afterEach, describe, expect, it } from 'vitest';
import type { DrillContext } from '../../../src/drills/context.js';
import { runInstanceDrill } from '../../../src/drills/instance-drill.js';
import { runUp, runVerify } from '../../../src/engine/engine.js';
import type { Outputs, Step } from '../../../src/engine/step.js';
import { STEP } from '../../../src/steps/outputs.js';
import { makeLoadTestStep } from '../../../src/steps/phase5-validation/load-test.js';
import { registry } from '../../../src/steps/registry.js';
import { engineFor } from '../../helpers/engine.js';
import { FakeCloud } from '../../helpers/fake-cloud/index.js';
import { fakeLoad } from '../../helpers/load-result.js';

/**
 * Issue 15 point 6: the instance drill replaces an instance, and the dashboard (built once, in
 * Phase 2) is still right afterwards: verify scores it in full without `up --phase 2`, and a
 * second `up` writes nothing. Runs the real drill against the fake cloud, whose Auto Scaling
 * group replaces the terminated instance as AWS does.
 */

const STEPS: Step[] = registry
  .filter((s) => s.id !== STEP.drills)
  .map((s) => (s.id === STEP.load ? (makeLoadTestStep(fakeLoad) as Step) : s));

let cloud: FakeCloud | undefined;
afterEach(() => cloud?.uninstall());

describe('the dashboard after the instance drill (fake cloud)', () => {
  it('stays valid: the instance was replaced, the dashboard checks all pass, nothing is rewritten', async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
    const { options, store } = await engineFor(STEPS);
    Object.assign(options, { sleep: cloud.sleep, now: cloud.now });
    expect((await runUp(options)).failed).toEqual([]);

    const dashboardChecks = async () =>
      (await runVerify(options)).checks
        .filter((c) => c.step === STEP.dashboard)
        .map((c) => [c.id, c.status]);
    expect(await dashboardChecks()).toEqual([
      ['monitoring.dashboard.exists', 'pass'],
      ['monitoring.dashboard.widgets', 'pass'],
      ['monitoring.dashboard.dimensions', 'pass'],
      ['monitoring.dashboard.instances', 'pass'],
    ]);

    const ctx: DrillContext = {
      config: options.config,
      aws: options.aws,
      outputs: <T extends Outputs>(id: string) => store.current.steps[id]?.outputs as T | undefined,
      progress: () => undefined,
      signal: new AbortController().signal,
      sleep: (ms) => cloud!.sleep(ms),
      now: cloud.now,
      probe: () => Promise.resolve({ ok: true, status: 200, ms: 5 }),
    };
    const drill = await runInstanceDrill(ctx, { probeIntervalMs: 5_000 });
    expect(drill.replacementId).toBeTruthy();
    expect(drill.replacementId).not.toBe(drill.instanceId);

    const mark = cloud.lastSeq;
    expect(await dashboardChecks()).toEqual([
      ['monitoring.dashboard.exists', 'pass'],
      ['monitoring.dashboard.widgets', 'pass'],
      ['monitoring.dashboard.dimensions', 'pass'],
      ['monitoring.dashboard.instances', 'pass'],
    ]);
    const instances = (await runVerify(options)).checks.find(
      (c) => c.id === 'monitoring.dashboard.instances',
    )!;
    expect(instances.evidence).toContain(drill.replacementId!);
    expect(instances.evidence).not.toContain(drill.instanceId);
    expect(cloud.mutatingCalls(mark)).toEqual([]);

    // `up` again leaves the dashboard as it is: its body depends on no instance.
    const again = cloud.lastSeq;
    expect((await runUp(options)).failed).toEqual([]);
    expect(cloud.mutatingCalls(again).map((c) => c.command)).not.toContain('PutDashboard');
  });
});
