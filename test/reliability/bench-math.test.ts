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
