import { describe, expect, it } from 'vitest';
import { couldNotCheck } from '../../src/engine/engine.js';
import type { Check, Criterion } from '../../src/engine/step.js';
import { STEP } from '../../src/steps/outputs.js';
import { grade, RUBRIC, score } from '../../src/verify/rubric.js';

const check = (
  criterion: Criterion,
  status: Check['status'],
  id = `${criterion}.${status}`,
): Check => ({
  id,
  title: id,
  criterion,
  status,
  evidence: 'e',
  fix: 'cloudmart up',
});

describe('rubric', () => {
  it('adds up to the seed 100 points in the seed areas', () => {
    expect(RUBRIC.reduce((s, r) => s + r.points, 0)).toBe(100);
    const byArea = (a: string) =>
      RUBRIC.filter((r) => r.area === a).reduce((s, r) => s + r.points, 0);
    expect([
      byArea('Architecture'),
      byArea('High availability'),
      byArea('Monitoring'),
      byArea('Security'),
    ]).toEqual([30, 30, 20, 20]);
  });

  it('gives full points when every check passes', () => {
    const s = score(RUBRIC.map((r) => check(r.criterion, 'pass')));
    expect(s.total).toBe(100);
    expect(s.grade).toBe('S');
    expect(s.items.every((i) => i.lost.length === 0)).toBe(true);
  });

  it('splits an item between its checks: fail 0, warn half, unknown 0', () => {
    const checks = [
      ...RUBRIC.filter((r) => r.criterion !== 'encryption').map((r) => check(r.criterion, 'pass')),
      check('encryption', 'pass', 'a'),
      check('encryption', 'fail', 'b'),
      check('encryption', 'warn', 'c'),
      check('encryption', 'unknown', 'd'),
    ];
    const s = score(checks);
    const enc = s.items.find((i) => i.criterion === 'encryption')!;
    expect(enc.earned).toBe(2.6); // 7/4 × (1 + 0 + 0.5 + 0) = 2.625 → 2.6
    expect(enc.lost.map((l) => l.points)).toEqual([1.8, 0.9, 1.8]);
    expect(enc.lost[0]!.fix).toBe('cloudmart up');
    expect(s.total).toBe(95.6);
  });

  it('an item with no check earns nothing and says what builds it', () => {
    const s = score(
      RUBRIC.filter((r) => r.criterion !== 'failure-recovery').map((r) =>
        check(r.criterion, 'pass'),
      ),
    );
    const item = s.items.find((i) => i.criterion === 'failure-recovery')!;
    expect(item.earned).toBe(0);
    expect(item.lost[0]!.fix).toContain('cloudmart drill');
    expect(s.total).toBe(90);
    expect(s.grade).toBe('S');
    // The grade line can name what was not measured.
    expect(s.notMeasured).toEqual([
      {
        item: 'Failure recovery test',
        points: 10,
        fix: 'cloudmart drill instance && cloudmart drill rds-failover',
      },
    ]);
  });

  it('names unknown checks as not measured, and failures not', () => {
    const s = score([
      ...RUBRIC.filter((r) => r.criterion !== 'failure-recovery' && r.criterion !== 'alarms').map(
        (r) => check(r.criterion, 'pass'),
      ),
      check('failure-recovery', 'unknown'),
      check('alarms', 'fail'),
    ]);
    expect(s.notMeasured.map((n) => [n.item, n.points])).toEqual([['Failure recovery test', 10]]);
  });

  it('a step that could not be checked costs the items it feeds, with the reason and the fix', () => {
    const all = RUBRIC.map((r) => check(r.criterion, 'pass'));
    // data.redis declares no criteria of its own: they come from STEP_CRITERIA.
    const broken = couldNotCheck(
      { id: STEP.redis, title: 'ElastiCache Redis' },
      new Error('DescribeReplicationGroups: InternalFailure'),
    );
    // Multi-AZ, security design and encryption each lose half their points (1 pass, 1 unknown).
    const s = score([...all, ...broken]);
    const item = (c: Criterion) => s.items.find((i) => i.criterion === c)!;
    expect(item('multi-az').earned).toBe(5);
    expect(item('security-design').earned).toBe(5);
    expect(item('encryption').earned).toBe(3.5);
    expect(item('multi-az').lost).toEqual([
      {
        points: 5,
        reason:
          'ElastiCache Redis: could not be checked (multi-az): not known (DescribeReplicationGroups: InternalFailure)',
        fix: 'fix the cause (see the evidence), then run "cloudmart verify" again',
      },
    ]);
    expect(s.total).toBe(86.5);
  });

  it('grades at the seed boundaries', () => {
    expect([
      grade(90),
      grade(89.9),
      grade(80),
      grade(79.9),
      grade(70),
      grade(60),
      grade(59.9),
    ]).toEqual(['S', 'A', 'A', 'B', 'B', 'C', 'F']);
  });
});
