import { expect, it } from 'vitest';
import { crashTrials, failed } from './crash.js';

// N = 60 in-process crash points: 30 here, 15 each in crash-b and crash-c (run in parallel).
// Set a: resources are ready at once.
it('crash anywhere in up, 30 seeded points (set a, resources ready at once): resume makes no duplicate, destroy leaves nothing', async () => {
  const outcomes = await crashTrials('a', 20251127, 30, 'instant');
  expect(outcomes.filter(failed)).toEqual([]);
  expect(outcomes.length).toBe(30);
}, 240_000);
