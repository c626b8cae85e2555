import type { Check } from '../engine/step.js';
import type { Score } from './rubric.js';

export interface VerifyReport {
  stack: string;
  region: string;
  at: string;
  checks: Array<Check & { step: string }>;
  score: Score;
  /** Every check passed or warned (no failure, nothing unknown). */
  ok: boolean;
}

const MARK: Record<Check['status'], string> = { pass: '✔', fail: '✖', warn: '!', unknown: '?' };

const SECTIONS: Array<{ title: string; criteria: Check['criterion'][] }> = [
  { title: 'Architecture', criteria: ['multi-az', 'security-design', 'scalability'] },
  { title: 'High availability', criteria: ['auto-scaling', 'rds-multi-az', 'failure-recovery'] },
  { title: 'Monitoring', criteria: ['dashboard', 'alarms'] },
  { title: 'Security', criteria: ['encryption', 'iam', 'audit-logs'] },
  { title: 'Backup and recovery', criteria: ['backup'] },
  { title: 'Performance', criteria: ['performance'] },
  { title: 'Cost', criteria: ['cost'] },
  { title: 'Other', criteria: ['other'] },
];

/** "; not measured: Failure recovery test (10 points: cloudmart drill …)" for the grade line. */
export function notMeasuredNote(
  r: VerifyReport,
  /** Fixes said once elsewhere (shared by many checks), left out here. */
  omitFixes: ReadonlySet<string> = new Set(),
): string {
  const list = r.score.notMeasured ?? [];
  if (list.length === 0) return '';
  return `; not measured: ${list.map((n) => `${n.item} (${n.points} points${n.fix && !omitFixes.has(n.fix) ? `: ${n.fix}` : ''})`).join(', ')}`;
}

/**
 * The terminal report: the score first, then sections, marks and evidence, then every lost
 * point. A fix shared by several checks (every call denied: "attach the policy") is said once,
 * after them, not under each.
 */
export function renderText(r: VerifyReport): string[] {
  const count = (s: Check['status']) => r.checks.filter((c) => c.status === s).length;
  const out: string[] = [
    `Verification of stack "${r.stack}" in ${r.region} (${r.at})`,
    `Score: ${r.score.total}/100 — grade ${r.score.grade} (${count('pass')} passed, ${count('fail')} failed, ${count('warn')} warnings, ${count('unknown')} not known)`,
  ];
  const lost = r.score.items.flatMap((i) => i.lost.map((l) => ({ ...l, item: i.item })));
  const uses = new Map<string, number>();
  for (const c of r.checks)
    if (c.status !== 'pass' && c.fix) uses.set(c.fix, (uses.get(c.fix) ?? 0) + 1);
  const shared = new Set([...uses].filter(([, n]) => n > 2).map(([fix]) => fix));
  const fixLine = (fix: string | undefined) =>
    fix && !shared.has(fix) ? [`      fix: ${fix}`] : [];

  for (const section of SECTIONS) {
    const checks = r.checks.filter((c) => section.criteria.includes(c.criterion));
    if (checks.length === 0) continue;
    out.push('', section.title);
    for (const c of checks) {
      out.push(`  ${MARK[c.status]} ${c.title} — ${c.evidence}`);
      if (c.status !== 'pass') out.push(...fixLine(c.fix));
    }
  }
  out.push('', `Score: ${r.score.total}/100 — grade ${r.score.grade}${notMeasuredNote(r, shared)}`);
  for (const item of r.score.items) {
    out.push(`  ${item.area} / ${item.item}: ${item.earned}/${item.points}`);
  }
  if (lost.length > 0) {
    out.push('', 'Points lost:');
    for (const l of lost) out.push(`  -${l.points} ${l.item}: ${l.reason}`, ...fixLine(l.fix));
  }
  if (shared.size > 0) {
    out.push('', 'Fixes shared by several checks:');
    for (const fix of shared) out.push(`  ${fix} (${uses.get(fix)} checks)`);
  }
  out.push(
    '',
    `${count('pass')} passed, ${count('fail')} failed, ${count('warn')} warnings, ${count('unknown')} not known`,
  );
  return out;
}
