/** The benchmark's graph arithmetic (bench/critical-path.ts): its figures are only as good as this. */
import { expect, it } from 'vitest';
import { criticalPath, median, sequentialTotal } from '../../bench/critical-path.js';

it('the critical path is the heaviest chain of the dependency graph, not the longest step', () => {
  const nodes = [
    { id: 'vpc', after: [] },
    { id: 'sg', after: ['vpc'] },
    { id: 'subnets', after: ['vpc'] },
    { id: 'rds', after: ['sg', 'subnets'] },
    { id: 'cdn', after: [] },
    { id: 'outside', after: ['not-in-graph'] },
  ];
  const d = new Map([
    ['vpc', 2],
    ['sg', 1],
    ['subnets', 3],
    ['rds', 15],
    ['cdn', 19],
    ['outside', 4],
  ]);
  expect(criticalPath(nodes, d)).toEqual({ length: 20, path: ['vpc', 'subnets', 'rds'] });
  expect(sequentialTotal(d)).toBe(44);
  d.set('cdn', 21);
  expect(criticalPath(nodes, d)).toEqual({ length: 21, path: ['cdn'] });
});

it('a cycle is an error, and the median is the middle value', () => {
  expect(() =>
    criticalPath(
      [
        { id: 'a', after: ['b'] },
        { id: 'b', after: ['a'] },
      ],
      new Map(),
    ),
  ).toThrow(/cycle/);
  expect(median([5, 1, 3])).toBe(3);
  expect(median([4, 1, 3, 2])).toBe(2.5);
});

it("up's physical path is the model's chain VPC → subnets → RDS → app settings → the app's start, whatever the steps wait", async () => {
  const { physicalPath, PHYSICAL } = await import('../../bench/time-to-s.js');
  const { loadConfig } = await import('../../src/config/load.js');
  const { selectSteps } = await import('../../src/engine/engine.js');
  const { registry } = await import('../../src/steps/registry.js');
  const { BENCH_SELECTION } = await import('../../bench/cloud.js');
  const { LATENCY_TIMINGS: T } = await import('../helpers/fake-cloud/timings.js');
  const config = await loadConfig('cloudmart.config.yaml');
  const steps = selectSteps(registry, config, BENCH_SELECTION);
  for (const id of Object.keys(PHYSICAL)) expect(steps.map((s) => s.id)).toContain(id);
  const p = physicalPath(steps);
  expect(p.path).toEqual([
    'network.vpc',
    'network.subnets',
    'data.rds',
    'app.settings',
    'app.asg (app start)',
    'app.asg',
  ]);
  expect(p.ms).toBe(2 * T.ec2Basic + T.rdsCreate + T.rdsFirstBackup + T.appStart);
  // The instances' own boot (4 min) runs while RDS is created: off the path.
  expect(p.ms).toBeLessThan(16 * 60_000);
});
