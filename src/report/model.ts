import type { Aws } from '../aws/clients.js';
import type { Config } from '../config/schema.js';
import type { Check, CheckStatus } from '../engine/step.js';
import type { StateFile } from '../state/store.js';
import type { VerifyReport } from '../verify/report.js';
import type { Score } from '../verify/rubric.js';
import { alarmPictures, dashboardPictures, type AwsPicture, type Window } from './aws-images.js';
import { words, type Lang, type Words } from './i18n.js';
import { liveView } from './live.js';
import {
  architecture,
  awsBackupPicture,
  checksPanel,
  cleanupPicture,
  drillPicture,
  encryptionPicture,
  latencyPicture,
  logsPicture,
  rdsBackupPicture,
  rpsPicture,
  s3Picture,
  worst,
  type CleanupReceipt,
} from './pictures.js';

/**
 * The hand-in report: the challenge's phases and its twelve picture places, each with its
 * pictures and the checks that are its evidence; the success criteria; the 100-point score.
 * `report.json` keeps this model beside the files so `destroy --report` can add the cleanup
 * receipt to the same report after the stack is gone.
 */

export type PlaceId =
  | 'architecture'
  | 'dashboard'
  | 'alarms'
  | 'logs'
  | 'rds-backup'
  | 's3-versioning'
  | 'aws-backup'
  | 'encryption'
  | 'cloudtrail'
  | 'flow-logs'
  | 'load'
  | 'failure'
  | 'cleanup';

export interface ReportCheck {
  id: string;
  step: string;
  criterion: Check['criterion'];
  title: string;
  status: CheckStatus;
  evidence: string;
  fix?: string;
}

export interface Picture {
  /** File name under images/. */
  file: string;
  caption: string;
  by: 'aws' | 'cloudmart';
}

export interface Section {
  id: PlaceId;
  phase: 1 | 2 | 3 | 4 | 5 | 6;
  /** The seed's picture place (1-12); the architecture has none. */
  place?: number;
  pictures: Picture[];
  /** Why a picture is missing (not measured yet, AWS refused…). */
  notes: string[];
  checks: ReportCheck[];
}

export interface CriterionRow {
  group: 'functional' | 'performance' | 'security' | 'cost';
  key: string;
  status: CheckStatus;
  evidence: string;
}

export interface HandIn {
  version: 1;
  lang: Lang;
  stack: string;
  region: string;
  at: string;
  score: Score;
  sections: Section[];
  criteria: CriterionRow[];
  cleanup?: CleanupReceipt;
}

/** The sections in the seed's order; a check belongs to the first section whose prefix it has. */
const PLACES: Array<{ id: PlaceId; phase: Section['phase']; place?: number; prefixes: string[] }> =
  [
    {
      id: 'architecture',
      phase: 1,
      prefixes: ['network.', 'iam.', 'app.', 'data.', 'edge.', 'security.kms'],
    },
    { id: 'dashboard', phase: 2, place: 1, prefixes: ['monitoring.dashboard'] },
    { id: 'alarms', phase: 2, place: 2, prefixes: ['monitoring.alarms', 'monitoring.sns'] },
    { id: 'logs', phase: 2, place: 3, prefixes: ['monitoring.logs'] },
    { id: 'rds-backup', phase: 3, place: 4, prefixes: ['backup.rds'] },
    { id: 's3-versioning', phase: 3, place: 5, prefixes: ['backup.s3'] },
    { id: 'aws-backup', phase: 3, place: 6, prefixes: ['backup.plan'] },
    { id: 'encryption', phase: 4, place: 7, prefixes: ['security.encryption'] },
    {
      id: 'cloudtrail',
      phase: 4,
      place: 8,
      prefixes: ['security.cloudtrail', 'security.audit-bucket'],
    },
    { id: 'flow-logs', phase: 4, place: 9, prefixes: ['security.flow-logs'] },
    { id: 'load', phase: 5, place: 10, prefixes: ['validation.load', 'criteria.performance'] },
    { id: 'failure', phase: 5, place: 11, prefixes: ['validation.drills', 'criteria.recovery'] },
    { id: 'cleanup', phase: 6, place: 12, prefixes: [] },
  ];

export function sectionOf(checkId: string): PlaceId | undefined {
  // The longest prefix wins.
  let best: { id: PlaceId; len: number } | undefined;
  for (const p of PLACES)
    for (const prefix of p.prefixes)
      if (checkId.startsWith(prefix) && (!best || prefix.length > best.len))
        best = { id: p.id, len: prefix.length };
  return best?.id;
}

/** The seed's success criteria, each judged on the checks that measure it. */
const CRITERIA: Array<{
  group: CriterionRow['group'];
  key: string;
  match: (c: ReportCheck) => boolean;
}> = [
  {
    group: 'functional',
    key: 'ha',
    match: (c) => c.criterion === 'multi-az' || c.id.startsWith('validation.drills.az'),
  },
  {
    group: 'functional',
    key: 'scaling',
    match: (c) => c.id === 'app.asg.cpu-policy' || c.criterion === 'auto-scaling',
  },
  {
    group: 'functional',
    key: 'monitoring',
    match: (c) => c.criterion === 'dashboard' || c.criterion === 'alarms',
  },
  {
    group: 'functional',
    key: 'backup',
    match: (c) => c.id.startsWith('backup.rds.') || /^backup\.s3\..*versioning$/.test(c.id),
  },
  {
    group: 'functional',
    key: 'securityFeatures',
    match: (c) =>
      c.id.startsWith('security.encryption') ||
      c.id.startsWith('security.cloudtrail') ||
      c.id.startsWith('security.flow-logs'),
  },
  {
    group: 'performance',
    key: 'latency',
    match: (c) => c.id === 'criteria.performance.average' || c.id === 'criteria.performance.p95',
  },
  { group: 'performance', key: 'availability', match: () => false },
  { group: 'performance', key: 'users', match: (c) => c.id === 'criteria.performance.concurrency' },
  {
    group: 'performance',
    key: 'recovery',
    match: (c) =>
      c.id.startsWith('criteria.recovery.') || c.id === 'validation.drills.rds-failover.rpo',
  },
  { group: 'security', key: 'encryption', match: (c) => c.criterion === 'encryption' },
  {
    group: 'security',
    key: 'leastPrivilege',
    match: (c) => c.criterion === 'iam' || c.id.startsWith('network.security-groups'),
  },
  { group: 'security', key: 'audit', match: (c) => c.criterion === 'audit-logs' },
  {
    group: 'security',
    key: 'privateNetwork',
    match: (c) =>
      c.id === 'app.asg.no-public-ip' || /(^network\.subnets|publicly|private)/.test(c.id),
  },
  { group: 'cost', key: 'budget', match: (c) => c.id === 'criteria.cost.budget' },
  { group: 'cost', key: 'freeTier', match: (c) => c.criterion === 'cost' },
  { group: 'cost', key: 'cleanup', match: () => false },
];

function summarise(checks: ReportCheck[], w: Words): string {
  if (checks.length === 0) return w.notYet;
  const counts = (['pass', 'fail', 'warn', 'unknown'] as const)
    .map((s) => [s, checks.filter((c) => c.status === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${w[`status_${s}`]}`)
    .join(', ');
  const shown = checks
    .filter((c) => c.status !== 'pass')
    .concat(checks.filter((c) => c.status === 'pass'));
  return `${counts} — ${shown
    .slice(0, 3)
    .map((c) => `${c.title}: ${c.evidence}`)
    .join('; ')}${checks.length > 3 ? ' …' : ''}`;
}

export function criteriaRows(
  checks: ReportCheck[],
  w: Words,
  cleanup?: CleanupReceipt,
): CriterionRow[] {
  return CRITERIA.map(({ group, key, match }) => {
    if (key === 'availability') {
      const drills = checks.filter((c) => c.id.startsWith('criteria.recovery.'));
      return {
        group,
        key,
        status: 'unknown',
        evidence: `${w.availabilityNote}${drills.length ? ` (${drills.map((d) => d.evidence).join('; ')})` : ''}`,
      };
    }
    if (key === 'cleanup') {
      if (!cleanup) return { group, key, status: 'unknown', evidence: w.cleanupNotYet };
      const removed = cleanup.steps.filter((s) => s.status === 'destroyed').length;
      const ok =
        cleanup.remaining.length === 0 &&
        cleanup.incomplete.length === 0 &&
        removed === cleanup.steps.length;
      return {
        group,
        key,
        status: ok ? 'pass' : 'fail',
        evidence: `${removed}/${cleanup.steps.length} steps removed, ${cleanup.kept.length} kept on purpose, ${cleanup.remaining.length} still there (${cleanup.finishedAt})`,
      };
    }
    const mine = checks.filter(match);
    return { group, key, status: worst(mine), evidence: summarise(mine, w) };
  });
}

/** Files to write under images/: SVG text or PNG bytes. */
export type Assets = Map<string, string | Uint8Array>;

/** The window every CloudWatch graph shows: from the stack's first run to now, at least 3 hours. */
function runWindow(state: StateFile, at: string): Window {
  const end = new Date(at);
  const times = [state.createdAt, ...state.runs.map((r) => r.startedAt)]
    .map((t) => Date.parse(t))
    .filter(Number.isFinite);
  const first = Math.min(end.getTime() - 3 * 3600_000, ...times);
  return { start: new Date(first - 5 * 60_000).toISOString(), end: end.toISOString() };
}

const stamp = (r: Record<string, unknown>) => (typeof r.at === 'string' ? r.at : '');

function newestRecord(...records: unknown[]): Record<string, unknown> | undefined {
  return records
    .filter((r): r is Record<string, unknown> => !!r && typeof r === 'object')
    .sort((a, b) => stamp(b).localeCompare(stamp(a)))[0];
}

function awsPictures(list: AwsPicture[], assets: Assets, notes: string[]): Picture[] {
  const out: Picture[] = [];
  for (const p of list) {
    if (p.png) {
      assets.set(`${p.name}.png`, p.png);
      out.push({ file: `${p.name}.png`, caption: p.title, by: 'aws' });
    } else notes.push(`${p.title}: ${p.problem ?? 'no picture'}`);
  }
  return out;
}

export interface BuildInput {
  report: VerifyReport;
  state: StateFile;
  config: Config;
  lang: Lang;
  /** Absent: no AWS pictures and no live reads (tests of the layout). */
  aws?: Aws;
}

/** Every section with its pictures (drawn now) and evidence. */
export async function buildHandIn(input: BuildInput): Promise<{ model: HandIn; assets: Assets }> {
  const { report, state, config, lang, aws } = input;
  const w = words(lang);
  const assets: Assets = new Map();
  const checks: ReportCheck[] = report.checks.map((c) => ({
    id: c.id,
    step: c.step,
    criterion: c.criterion,
    title: c.title,
    status: c.status,
    evidence: c.evidence,
    ...(c.fix ? { fix: c.fix } : {}),
  }));
  const sections: Section[] = PLACES.map((p) => ({
    id: p.id,
    phase: p.phase,
    ...(p.place ? { place: p.place } : {}),
    pictures: [],
    notes: [],
    checks: checks.filter((c) => sectionOf(c.id) === p.id),
  }));
  const section = (id: PlaceId) => sections.find((s) => s.id === id)!;
  const draw = (
    id: PlaceId,
    file: string,
    svgText: string | undefined,
    caption: string,
    missing?: string,
  ) => {
    if (svgText === undefined) {
      if (missing) section(id).notes.push(missing);
      return;
    }
    assets.set(file, svgText);
    section(id).pictures.push({ file, caption, by: 'cloudmart' });
  };
  const all = report.checks;
  const window = runWindow(state, report.at);

  const view = await liveView(aws, state);
  draw(
    'architecture',
    'architecture.svg',
    architecture(view, config, w, all),
    w.places.architecture!,
  );

  if (aws) {
    const [dash, alarms] = await Promise.all([
      dashboardPictures(aws, config, window),
      alarmPictures(aws, config, window),
    ]);
    section('dashboard').pictures.push(...awsPictures(dash, assets, section('dashboard').notes));
    const searched = dash.filter((p) => p.png && p.search).map((p) => p.title);
    if (searched.length > 0)
      section('dashboard').notes.push(`${searched.join(', ')}: ${w.perInstanceNote}`);
    section('alarms').pictures.push(...awsPictures(alarms, assets, section('alarms').notes));
  }
  const inSection = (id: PlaceId) => all.filter((c) => sectionOf(c.id) === id);
  draw('logs', 'logs.svg', logsPicture(config, all, w), w.logsTitle);
  draw(
    'rds-backup',
    'rds-backup.svg',
    rdsBackupPicture(config, all, w, config.drRegion),
    w.places['rds-backup']!,
  );
  draw('s3-versioning', 's3-versioning.svg', s3Picture(config, all, w), w.places['s3-versioning']!);
  draw('aws-backup', 'aws-backup.svg', awsBackupPicture(config, all, w), w.places['aws-backup']!);
  draw('encryption', 'encryption.svg', encryptionPicture(all, w), w.encryptionTitle);
  draw(
    'cloudtrail',
    'cloudtrail.svg',
    checksPanel(w.trailTitle, inSection('cloudtrail')),
    w.trailTitle,
  );
  draw('flow-logs', 'flow-logs.svg', checksPanel(w.flowTitle, inSection('flow-logs')), w.flowTitle);

  const load = newestRecord(state.results.load, state.steps['validation.load']?.outputs);
  if (load) {
    draw(
      'load',
      'load-latency.svg',
      latencyPicture(load, w),
      w.latencyTitle,
      `${w.latencyTitle}: ${w.notRecorded}`,
    );
    draw(
      'load',
      'load-rps.svg',
      rpsPicture(load, w),
      w.rpsTitle,
      `${w.rpsTitle}: ${w.notRecorded}`,
    );
  } else section('load').notes.push(`${w.places.load}: ${w.notYet} (cloudmart load)`);

  const drillOutputs = state.steps['validation.drills']?.outputs;
  let drills = 0;
  for (const name of ['instance', 'rds-failover', 'az']) {
    const r = newestRecord(state.results.drills?.[name], drillOutputs?.[name]);
    if (!r) continue;
    drills++;
    draw('failure', `drill-${name}.svg`, drillPicture(name, r, w), `${w.drillTitle}: ${name}`);
  }
  if (drills === 0)
    section('failure').notes.push(
      `${w.places.failure}: ${w.notYet} (cloudmart drill instance, cloudmart drill rds-failover)`,
    );
  section('cleanup').notes.push(w.cleanupNotYet);

  const model: HandIn = {
    version: 1,
    lang,
    stack: report.stack,
    region: report.region,
    at: report.at,
    score: report.score,
    sections,
    criteria: criteriaRows(checks, w),
  };
  return { model, assets };
}

/** Add the cleanup receipt (after destroy) to a report, or start one that holds only it. */
export function withCleanup(
  model: HandIn | undefined,
  receipt: CleanupReceipt,
  fallback: { stack: string; region: string; lang: Lang },
): { model: HandIn; assets: Assets } {
  const lang = model?.lang ?? fallback.lang;
  const w = words(lang);
  const base: HandIn = model ?? {
    version: 1,
    lang,
    stack: fallback.stack,
    region: fallback.region,
    at: receipt.finishedAt,
    score: { total: 0, grade: 'F', items: [], notMeasured: [] },
    sections: [],
    criteria: [],
  };
  const assets: Assets = new Map([['cleanup.svg', cleanupPicture(receipt, w)]]);
  const cleanup: Section = {
    id: 'cleanup',
    phase: 6,
    place: 12,
    pictures: [{ file: 'cleanup.svg', caption: w.cleanupTitle, by: 'cloudmart' }],
    notes: [
      ...receipt.kept.map(
        (k) => `${w.kept}: ${k.arn} (${k.region})${k.note ? ` — ${k.note}` : ''}`,
      ),
      ...receipt.remaining.map(
        (k) => `${w.remaining}: ${k.arn} (${k.region})${k.note ? ` — ${k.note}` : ''}`,
      ),
      ...receipt.incomplete.map((p) => `✖ ${p}`),
    ],
    checks: receipt.steps.map((s) => ({
      id: `cleanup.${s.id}`,
      step: s.id,
      criterion: 'other',
      title: s.title,
      status: s.status === 'destroyed' ? 'pass' : 'fail',
      evidence: `${s.status === 'destroyed' ? w.removed : w.notRemoved}${s.finishedAt ? ` ${s.finishedAt}` : ''}${s.ids.length ? ` — ${s.ids.join(', ')}` : ''}`,
    })),
  };
  const kept = base.sections.find((s) => s.id === 'cleanup');
  const sections = base.sections.filter((s) => s.id !== 'cleanup');
  if (kept) cleanup.checks.push(...kept.checks);
  sections.push(cleanup);
  const allChecks = sections
    .filter((s) => s.id !== 'cleanup')
    .flatMap((s) => s.checks)
    .concat(kept?.checks ?? []);
  return {
    model: {
      ...base,
      sections,
      cleanup: receipt,
      criteria: base.criteria.length ? criteriaRows(allChecks, w, receipt) : [],
    },
    assets,
  };
}
