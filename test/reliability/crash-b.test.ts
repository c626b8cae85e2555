import { expect, it } from 'vitest';
import { crashTrials, failed } from './crash.js';

// Sets b and c: resources take AWS's typical times on the simulated clock (RDS 15 min, NAT
// 2 min…), so crashes also land inside waits and the resumed run adopts resources still
// being created. 15 trials per file so vitest can run them in parallel.
it('crash anywhere in up, 15 seeded points (set b, AWS-like creation times): resume makes no duplicate, destroy leaves nothing', async () => {
  const outcomes = await crashTrials('b', 4242, 15, 'timed');
  expect(outcomes.filter(failed)).toEqual([]);
  expect(outcomes.length).toBe(15);
}, 240_000);
