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
export function notMeasuredNote(r: VerifyReport): string {
  const list = r.score.notMeasured ?? [];
  if (list.length === 0) return '';
  return `; not measured: ${list.map((n) => `${n.item} (${n.points} points${n.fix ? `: ${n.fix}` : ''})`).join(', ')}`;
}

/** The terminal report: sections, marks, evidence, then the score and every lost point. */
export function renderText(r: VerifyReport): string[] {
  const out: string[] = [`Verification of stack "${r.stack}" in ${r.region} (${r.at})`];
  for (const section of SECTIONS) {
    const checks = r.checks.filter((c) => section.criteria.includes(c.criterion));
    if (checks.length === 0) continue;
    out.push('', section.title);
    for (const c of checks) {
      out.push(`  ${MARK[c.status]} ${c.title} — ${c.evidence}`);
      if (c.status !== 'pass' && c.fix) out.push(`      fix: ${c.fix}`);
    }
  }
  out.push('', `Score: ${r.score.total}/100 — grade ${r.score.grade}${notMeasuredNote(r)}`);
  for (const item of r.score.items) {
    out.push(`  ${item.area} / ${item.item}: ${item.earned}/${item.points}`);
  }
  const lost = r.score.items.flatMap((i) => i.lost.map((l) => ({ ...l, item: i.item })));
  if (lost.length > 0) {
    out.push('', 'Points lost:');
    for (const l of lost)
      out.push(`  -${l.points} ${l.item}: ${l.reason}${l.fix ? `\n      fix: ${l.fix}` : ''}`);
  }
  const count = (s: Check['status']) => r.checks.filter((c) => c.status === s).length;
  out.push(
    '',
    `${count('pass')} passed, ${count('fail')} failed, ${count('warn')} warnings, ${count('unknown')} not known`,
  );
  return out;
}
