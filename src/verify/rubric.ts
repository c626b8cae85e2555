import type { Check, Criterion } from '../engine/step.js';
import { STEP, type StepId } from '../steps/outputs.js';

/** The seed's 100-point rubric, item by item, with the criterion that feeds each item. */
export const RUBRIC: ReadonlyArray<{
  area: string;
  item: string;
  criterion: Criterion;
  points: number;
  builtBy: string;
}> = [
  {
    area: 'Architecture',
    item: 'Multi-AZ',
    criterion: 'multi-az',
    points: 10,
    builtBy: 'cloudmart up --phase 1',
  },
  {
    area: 'Architecture',
    item: 'Security design',
    criterion: 'security-design',
    points: 10,
    builtBy: 'cloudmart up --phase 1',
  },
  {
    area: 'Architecture',
    item: 'Scalability',
    criterion: 'scalability',
    points: 10,
    builtBy: 'cloudmart up --phase 1',
  },
  {
    area: 'High availability',
    item: 'Auto Scaling',
    criterion: 'auto-scaling',
    points: 10,
    builtBy: 'cloudmart up --phase 1',
  },
  {
    area: 'High availability',
    item: 'RDS Multi-AZ',
    criterion: 'rds-multi-az',
    points: 10,
    builtBy: 'cloudmart up --phase 1',
  },
  {
    area: 'High availability',
    item: 'Failure recovery test',
    criterion: 'failure-recovery',
    points: 10,
    builtBy: 'cloudmart drill instance && cloudmart drill rds-failover',
  },
  {
    area: 'Monitoring',
    item: 'Dashboard',
    criterion: 'dashboard',
    points: 10,
    builtBy: 'cloudmart up --phase 2',
  },
  {
    area: 'Monitoring',
    item: 'Alarms',
    criterion: 'alarms',
    points: 10,
    builtBy: 'cloudmart up --phase 2',
  },
  {
    area: 'Security',
    item: 'Encryption',
    criterion: 'encryption',
    points: 7,
    builtBy: 'cloudmart up --phase 4',
  },
  { area: 'Security', item: 'IAM', criterion: 'iam', points: 7, builtBy: 'cloudmart up --phase 1' },
  {
    area: 'Security',
    item: 'Audit logs',
    criterion: 'audit-logs',
    points: 6,
    builtBy: 'cloudmart up --phase 4',
  },
];

/**
 * The criteria each step's verify reports on (a step's own `criteria` field wins). When a
 * step's verify throws, the engine turns each of these into an `unknown` check, so the items
 * it feeds lose points with a reason instead of being scored on the other steps' checks alone.
 * Keyed by every step id, so a new step cannot be forgotten; test/engine checks it against what
 * each step really reports on a built stack.
 */
export const STEP_CRITERIA: Readonly<Record<StepId, readonly Criterion[]>> = {
  [STEP.kms]: ['encryption'],
  [STEP.vpc]: ['multi-az', 'security-design', 'other'],
  [STEP.subnets]: ['multi-az', 'security-design'],
  [STEP.igw]: ['other'],
  [STEP.nat]: ['multi-az'],
  [STEP.routes]: ['multi-az', 'other'],
  [STEP.securityGroups]: ['security-design'],
  [STEP.instanceRole]: ['iam'],
  [STEP.certificates]: ['encryption', 'other'],
  [STEP.rds]: ['rds-multi-az', 'security-design', 'encryption', 'backup', 'other'],
  [STEP.redis]: ['multi-az', 'security-design', 'encryption', 'backup'],
  [STEP.frontendBucket]: ['security-design', 'encryption'],
  [STEP.waf]: ['security-design'],
  [STEP.cdn]: ['scalability', 'security-design', 'encryption', 'other'],
  [STEP.dns]: ['multi-az', 'other'],
  [STEP.albLogBucket]: ['security-design', 'encryption', 'audit-logs'],
  [STEP.alb]: ['multi-az', 'scalability', 'auto-scaling', 'encryption', 'audit-logs', 'other'],
  [STEP.appSettings]: ['security-design', 'other'],
  [STEP.launchTemplate]: [
    'security-design',
    'auto-scaling',
    'encryption',
    'iam',
    'dashboard',
    'backup',
  ],
  [STEP.asg]: ['multi-az', 'scalability', 'auto-scaling', 'security-design', 'encryption'],
  [STEP.sns]: ['alarms', 'encryption'],
  [STEP.logs]: ['dashboard', 'encryption', 'other'],
  [STEP.dashboard]: ['dashboard'],
  [STEP.alarms]: ['alarms'],
  [STEP.rdsBackup]: ['backup'],
  [STEP.rdsSnapshot]: ['backup'],
  [STEP.s3Lifecycle]: ['backup'],
  [STEP.backupPlan]: ['backup'],
  [STEP.encryption]: ['encryption'],
  [STEP.auditBucket]: ['security-design', 'encryption', 'audit-logs'],
  [STEP.trail]: ['audit-logs'],
  [STEP.flowLogs]: ['encryption', 'audit-logs'],
  [STEP.load]: ['performance'],
  [STEP.drills]: ['multi-az', 'failure-recovery'],
};

/** The criteria a step reports on: its own declaration, else its `STEP_CRITERIA` entry. */
export function stepCriteria(step: { id: string; criteria?: Criterion[] }): readonly Criterion[] {
  return step.criteria ?? (STEP_CRITERIA as Record<string, readonly Criterion[]>)[step.id] ?? [];
}

export type Grade = 'S' | 'A' | 'B' | 'C' | 'F';

export interface LostPoint {
  points: number;
  reason: string;
  fix?: string;
}

export interface ScoredItem {
  area: string;
  item: string;
  criterion: Criterion;
  points: number;
  earned: number;
  passed: number;
  total: number;
  lost: LostPoint[];
}

export interface Score {
  total: number;
  grade: Grade;
  items: ScoredItem[];
  /** Points withheld because something was not measured (an `unknown` check, or none), by item. */
  notMeasured: Array<{ item: string; points: number; fix?: string }>;
}

export function grade(total: number): Grade {
  if (total >= 90) return 'S';
  if (total >= 80) return 'A';
  if (total >= 70) return 'B';
  if (total >= 60) return 'C';
  return 'F';
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * An item earns its points in proportion to its checks: a pass counts fully, a warning half,
 * a failure or an unknown nothing. An item with no check at all earns nothing (it was not
 * built or not measured), and the reason says what builds it.
 */
export function score(checks: Check[]): Score {
  const items = RUBRIC.map((r): ScoredItem => {
    const mine = checks.filter((c) => c.criterion === r.criterion);
    if (mine.length === 0) {
      return {
        ...r,
        earned: 0,
        passed: 0,
        total: 0,
        lost: [
          {
            points: r.points,
            reason: 'nothing to check: not built or not measured yet',
            fix: r.builtBy,
          },
        ],
      };
    }
    const share = r.points / mine.length;
    const lost: LostPoint[] = [];
    let earned = 0;
    for (const c of mine) {
      const weight = c.status === 'pass' ? 1 : c.status === 'warn' ? 0.5 : 0;
      earned += share * weight;
      if (weight < 1) {
        lost.push({
          points: round1(share * (1 - weight)),
          reason: `${c.title}: ${c.status === 'unknown' ? 'not known' : c.status === 'warn' ? 'warning' : 'failed'} (${c.evidence})`,
          ...(c.fix ? { fix: c.fix } : {}),
        });
      }
    }
    return {
      ...r,
      earned: round1(earned),
      passed: mine.filter((c) => c.status === 'pass').length,
      total: mine.length,
      lost,
    };
  });
  const total = round1(items.reduce((s, i) => s + i.earned, 0));
  const notMeasured = items.flatMap((i) => {
    const unmeasured = i.lost.filter(
      (l) => l.reason.startsWith('nothing to check') || l.reason.includes(': not known ('),
    );
    if (unmeasured.length === 0) return [];
    const fix = unmeasured.find((l) => l.fix)?.fix;
    return [
      {
        item: i.item,
        points: round1(unmeasured.reduce((n, l) => n + l.points, 0)),
        ...(fix ? { fix } : {}),
      },
    ];
  });
  return { total, grade: grade(total), items, notMeasured };
}
