import { expect, it } from 'vitest';
import { crashTrials, failed } from './crash.js';

// See crash-b.test.ts: the same with other crash points.
it('crash anywhere in up, 15 seeded points (set c, AWS-like creation times): resume makes no duplicate, destroy leaves nothing', async () => {
  const outcomes = await crashTrials('c', 5151, 15, 'timed');
  expect(outcomes.filter(failed)).toEqual([]);
  expect(outcomes.length).toBe(15);
}, 240_000);
