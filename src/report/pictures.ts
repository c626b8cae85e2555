import type { Config } from '../config/schema.js';
import type { Check, CheckStatus } from '../engine/step.js';
import type { Words } from './i18n.js';
import type { LiveView } from './live.js';
import {
  COLOURS,
  barChart,
  chip,
  lanes,
  lineSeg,
  panel,
  rect,
  spans,
  svg,
  text,
  timeSeries,
  type Tone,
} from './svg.js';

/** The pictures cloudmart draws itself, as SVG text; each reads only what it is given. */

export const TONE: Record<CheckStatus, Tone> = {
  pass: 'ok',
  fail: 'bad',
  warn: 'warn',
  unknown: 'none',
};
export const MARK: Record<CheckStatus, string> = { pass: '✔', fail: '✖', warn: '!', unknown: '?' };

type Figures = Record<string, unknown>;
const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;
const flag = (v: unknown): string => (typeof v === 'boolean' ? String(v) : '?');
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The worst status of some checks (none: unknown). */
export function worst(checks: Array<Pick<Check, 'status'>>): CheckStatus {
  if (checks.length === 0) return 'unknown';
  for (const s of ['fail', 'unknown', 'warn'] as const)
    if (checks.some((c) => c.status === s)) return s;
  return 'pass';
}

const statusOf = (checks: Check[], prefix: string): CheckStatus =>
  worst(checks.filter((c) => c.id === prefix || c.id.startsWith(prefix + '.')));

/** The architecture of the challenge with this stack's ids, AZs and states. */
export function architecture(v: LiveView, config: Config, w: Words, checks: Check[]): string {
  const width = 960;
  const azs = v.azs.length ? v.azs : config.availabilityZones;
  const colW = 420;
  const vpcTop = 150;
  let body = text(16, 26, `${w.archTitle} — ${config.stack} (${config.region})`, {
    size: 16,
    weight: 'bold',
  });
  // Edge: Route 53 → CloudFront + WAF → S3, and the ALB for /api/*.
  const edge: Array<[string, string, Tone]> = [];
  if (config.dns.domain)
    edge.push(['Route 53', config.dns.domain, TONE[statusOf(checks, 'edge.dns')]]);
  edge.push([
    'CloudFront + WAF',
    v.cdn ? `${v.cdn.id} · ${v.waf ?? ''}` : '—',
    TONE[worst(checks.filter((c) => c.id.startsWith('edge.cdn') || c.id.startsWith('edge.waf')))],
  ]);
  edge.push([
    'S3 frontend (versioning)',
    v.bucket ?? '—',
    TONE[statusOf(checks, 'edge.frontend-bucket')],
  ]);
  const ew = (width - 40 - (edge.length - 1) * 30) / edge.length;
  edge.forEach(([title, id, tone], i) => {
    const x = 20 + i * (ew + 30);
    body += chip(x, 44, ew, 24, title, tone, 12);
    body += text(x + ew / 2, 84, id, { size: 10, anchor: 'middle', colour: '#444', max: ew });
    if (i > 0) body += lineSeg(x - 28, 56, x - 2, 56, '#666');
  });
  body += lineSeg(width / 2, 90, width / 2, vpcTop, '#666');
  body += text(width / 2 + 6, 120, v.alb ? `ALB ${v.alb.name} (${v.alb.dns})` : 'ALB —', {
    size: 10,
    colour: '#444',
    max: width / 2 - 20,
  });
  // VPC with one column per AZ.
  const vpcH = 470;
  body += rect(10, vpcTop, width - 20, vpcH, { stroke: '#1f5fa8', rx: 8 });
  body += text(
    22,
    vpcTop + 18,
    `${w.vpc} ${v.vpc?.id ?? '—'} ${v.vpc?.cidr ?? config.network.vpcCidr} + Flow Logs`,
    {
      size: 12,
      weight: 'bold',
      colour: '#1f5fa8',
    },
  );
  azs.forEach((az, i) => {
    const x = 30 + i * (colW + 60);
    const y0 = vpcTop + 30;
    body += rect(x, y0, colW, vpcH - 45, { stroke: '#999', rx: 6, dash: true });
    body += text(x + 10, y0 + 18, `AZ ${az}`, { size: 12, weight: 'bold' });
    // Public subnet: ALB node and NAT gateway.
    body += rect(x + 10, y0 + 26, colW - 20, 70, { fill: '#eef6ee', rx: 4 });
    body += text(x + 18, y0 + 42, `${w.publicSubnet} ${v.publicSubnets[i] ?? ''}`, {
      size: 10,
      colour: '#2e6b2e',
      max: colW - 36,
    });
    body += chip(x + 18, y0 + 52, 150, 34, 'ALB', TONE[statusOf(checks, 'app.alb')]);
    const nat = v.nats[i];
    body += chip(
      x + 180,
      y0 + 52,
      colW - 208,
      34,
      nat ? `NAT ${nat.id} · ${nat.state}` : 'NAT —',
      nat && nat.state === 'available' ? 'ok' : nat ? 'info' : 'bad',
      10,
    );
    // App subnet: instances of the Auto Scaling group here.
    const y1 = y0 + 106;
    body += rect(x + 10, y1, colW - 20, 130, { fill: '#eef2fb', rx: 4 });
    body += text(x + 18, y1 + 16, `${w.appSubnet} ${v.appSubnets[i] ?? ''}`, {
      size: 10,
      colour: '#1f5fa8',
      max: colW - 36,
    });
    const here = v.instances.filter((inst) => inst.az === az);
    if (here.length === 0)
      body += text(x + 18, y1 + 44, 'EC2 (ASG) —', { size: 11, colour: '#757575' });
    here.slice(0, 3).forEach((inst, j) => {
      const tone: Tone =
        inst.state === 'InService' && inst.health === 'Healthy'
          ? 'ok'
          : inst.state.startsWith('Terminat')
            ? 'bad'
            : 'warn';
      body += chip(
        x + 18,
        y1 + 24 + j * 34,
        colW - 36,
        28,
        `EC2 ${inst.id} · ${inst.state} · ${inst.health}`,
        tone,
        10,
      );
    });
    if (here.length > 3) body += text(x + 18, y1 + 126, `+${here.length - 3}`, { size: 10 });
    // Data subnet: RDS primary / standby and a Redis node.
    const y2 = y1 + 140;
    body += rect(x + 10, y2, colW - 20, 150, { fill: '#fbf1e8', rx: 4 });
    body += text(x + 18, y2 + 16, `${w.dataSubnet} ${v.dataSubnets[i] ?? ''}`, {
      size: 10,
      colour: '#8a4b0f',
      max: colW - 36,
    });
    if (v.rds) {
      const primary = v.rds.az === az;
      const standby = v.rds.standbyAz === az;
      const role = primary ? w.primary : standby ? w.standby : v.rds.az ? '' : '?';
      body += chip(
        x + 18,
        y2 + 26,
        colW - 36,
        30,
        `RDS ${v.rds.id} · ${role} · ${v.rds.status}`,
        primary || standby ? (v.rds.status === 'available' ? 'ok' : 'warn') : 'none',
        10,
      );
      body += text(x + 22, y2 + 70, 'KMS · TLS · automated backups', { size: 9, colour: '#555' });
    }
    const node =
      v.redis?.nodes.find((n) => n.az === az) ??
      (v.redis?.nodes[i] && !v.redis.nodes[i].az ? v.redis.nodes[i] : undefined);
    if (v.redis)
      body += chip(
        x + 18,
        y2 + 82,
        colW - 36,
        30,
        node ? `Redis ${node.id}${node.role ? ` · ${node.role}` : ''}` : 'Redis —',
        node ? TONE[statusOf(checks, 'data.redis')] : 'bad',
        10,
      );
    body += text(x + 22, y2 + 126, 'at rest + in transit + AUTH', { size: 9, colour: '#555' });
  });
  const y3 = vpcTop + vpcH + 14;
  body += chip(
    20,
    y3,
    width - 40,
    28,
    w.monitoringStrip,
    TONE[
      worst(
        checks.filter((c) =>
          /^(monitoring|security\.cloudtrail|backup\.plan|security\.flow-logs)/.test(c.id),
        ),
      )
    ],
    12,
  );
  if (v.problems.length)
    body += text(20, y3 + 48, `! ${v.problems.join('; ')}`, {
      size: 10,
      colour: COLOURS.warn,
      max: width - 40,
    });
  return svg(width, y3 + 60, `${w.archTitle} ${config.stack}`, body);
}

/** Checks as a settings panel (one row each: mark, title, the evidence read from AWS). */
export function checksPanel(title: string, checks: Check[]): string {
  return panel(
    title,
    checks.map((c) => ({
      label: c.title,
      value: c.evidence,
      tone: TONE[c.status],
      mark: MARK[c.status],
    })),
  );
}

/** RDS backups: automated retention, the manual snapshot, the copy in the DR region. */
export function rdsBackupPicture(
  config: Config,
  checks: Check[],
  w: Words,
  drRegion: string,
): string {
  const d = config.database;
  const rows = [
    {
      label: `automated backups (${d.backupWindow} UTC)`,
      from: 0,
      to: d.backupRetentionDays,
      tone: TONE[statusOf(checks, 'backup.rds.retention')],
      note: `${d.backupRetentionDays} ${w.days} · PITR`,
    },
    {
      label: `PITR (latest restorable time)`,
      from: 0,
      to: d.backupRetentionDays,
      tone: TONE[statusOf(checks, 'backup.rds.pitr-rpo')],
      note: '≈ 5 min',
    },
    ...(d.crossRegionBackup
      ? [
          {
            label: `copy → ${drRegion}`,
            from: 0,
            to: d.backupRetentionDays,
            tone: TONE[statusOf(checks, 'backup.rds.cross-region')],
            note: `${d.backupRetentionDays} ${w.days}`,
          },
        ]
      : []),
    {
      label: d.snapshotName,
      from: 0,
      to: d.snapshotRetentionDays,
      tone: TONE[statusOf(checks, 'backup.rds-snapshot')],
      note: `${d.snapshotRetentionDays} ${w.days}`,
    },
  ];
  return spans({
    title: `${w.places['rds-backup']} — ${w.retentionTitle}`,
    rows,
    axisLabel: w.days,
  });
}

/** S3 versioning and lifecycle: current kept, noncurrent → Glacier → expired, multipart abort. */
export function s3Picture(config: Config, checks: Check[], w: Words): string {
  const s = config.backup.s3;
  const versioning = TONE[worst(checks.filter((c) => c.id.endsWith('.versioning')))];
  const lifecycle = TONE[worst(checks.filter((c) => c.id.endsWith('.lifecycle')))];
  return spans({
    title: `${w.places['s3-versioning']} — ${w.retentionTitle}`,
    rows: [
      {
        label: 'current version',
        from: 0,
        to: s.noncurrentExpireDays,
        tone: versioning,
        note: 'Versioning: Enabled · kept',
      },
      {
        label: 'noncurrent: S3 Standard',
        from: 0,
        to: s.noncurrentToGlacierDays,
        tone: lifecycle,
        note: `0–${s.noncurrentToGlacierDays} ${w.days}`,
      },
      {
        label: 'noncurrent: Glacier',
        from: s.noncurrentToGlacierDays,
        to: s.noncurrentExpireDays,
        tone: lifecycle,
        note: `→ expire ${s.noncurrentExpireDays} ${w.days}`,
      },
      {
        label: 'incomplete multipart uploads',
        from: 0,
        to: s.abortMultipartDays,
        tone: lifecycle,
        note: `abort ${s.abortMultipartDays} ${w.days}`,
      },
    ],
    axisLabel: w.days,
  });
}

/** AWS Backup: the daily 02:00 plan, its retention and the tag selection. */
export function awsBackupPicture(config: Config, checks: Check[], w: Words): string {
  const b = config.backup;
  const days = Math.max(b.retentionDays + 2, 9);
  const rows = Array.from({ length: Math.min(days, 12) }, (_, i) => ({
    label: `recovery point day ${i + 1} (${b.schedule})`,
    from: i,
    to: i + b.retentionDays,
    tone: TONE[statusOf(checks, 'backup.plan.rule')],
    note: i === 0 ? `${b.retentionDays} ${w.days}` : '',
  })).slice(0, 4);
  rows.push({
    label: `${b.selectionTag.key}=${b.selectionTag.value}`,
    from: 0,
    to: 0.4,
    tone: TONE[statusOf(checks, 'backup.plan.selection')],
    note: `${b.planName}: selection by tag`,
  });
  return spans({ title: `${w.places['aws-backup']} — ${b.planName}`, rows, axisLabel: w.days });
}

/** The log groups' retention, their metric filters and encryption. */
export function logsPicture(config: Config, checks: Check[], w: Words): string {
  const l = config.monitoring.logs;
  const group = (key: string, name: string, days: number, extra: string) => ({
    label: name,
    from: 0,
    to: days,
    tone: TONE[worst(checks.filter((c) => c.id.startsWith(`monitoring.logs.${key}.`)))],
    note: `${days} ${w.days}${extra}`,
  });
  const filters = checks.filter((c) => c.id.startsWith('monitoring.logs.filter.'));
  return spans({
    title: w.logsTitle,
    rows: [
      group(
        'backend',
        l.backend.name,
        l.backend.retentionDays,
        filters.length ? ` · ${filters.map((f) => f.id.split('.').pop()).join(', ')}` : '',
      ),
      group('alb', l.alb.name, l.alb.retentionDays, ' · S3 export'),
      group('rds', l.rds.name, l.rds.retentionDays, ' · slow query log'),
      {
        label: config.network.flowLogs.logGroup,
        from: 0,
        to: config.network.flowLogs.retentionDays,
        tone: TONE[statusOf(checks, 'security.flow-logs.log-group')],
        note: `${config.network.flowLogs.retentionDays} ${w.days}`,
      },
    ],
    axisLabel: w.days,
  });
}

/** Encryption as a matrix: resource × at rest / in transit / key or token. */
export function encryptionPicture(checks: Check[], w: Words): string {
  const cols = ['at rest', 'in transit', 'key / AUTH'];
  const rows: Array<[string, Array<string | undefined>]> = [
    ['RDS', ['security.encryption.rds-storage', 'security.encryption.rds-tls', 'security.kms']],
    [
      'ElastiCache',
      [
        'security.encryption.redis-at-rest',
        'security.encryption.redis-in-transit',
        'security.encryption.redis-auth',
      ],
    ],
    ['S3', ['security.encryption.s3-default', 'security.encryption.s3-https-only', undefined]],
    ['EBS', ['security.encryption.ebs-volumes', undefined, 'security.encryption.ebs-default']],
    ['SNS', ['security.encryption.sns', undefined, undefined]],
    ['CloudWatch Logs', ['security.encryption.log-groups', undefined, undefined]],
  ];
  const width = 760;
  const cw = (width - 200) / cols.length;
  let body = text(16, 26, w.encryptionTitle, { size: 15, weight: 'bold' });
  cols.forEach(
    (c, i) =>
      (body += text(190 + i * cw + cw / 2, 52, c, { size: 11, anchor: 'middle', weight: 'bold' })),
  );
  rows.forEach(([name, ids], r) => {
    const y = 62 + r * 38;
    body += text(20, y + 21, name, { size: 12, weight: 'bold' });
    ids.forEach((id, i) => {
      if (!id) return;
      const mine = checks.filter((c) => c.id === id || c.id.startsWith(id + '.'));
      const s = worst(mine);
      const label = mine.length ? `${MARK[s]} ${mine[0]!.evidence}` : `? ${w.notRecorded}`;
      body += chip(190 + i * cw + 4, y + 4, cw - 8, 28, label, TONE[s], 10);
    });
  });
  return svg(width, 62 + rows.length * 38 + 14, w.encryptionTitle, body);
}

/** The latency histogram, with the seed's 500 ms and 1 s lines where its range reaches them. */
export function latencyPicture(load: Figures, w: Words): string | undefined {
  const h = load.histogram as Array<{ le: number | null; count: number }> | undefined;
  if (!Array.isArray(h) || h.length === 0) return undefined;
  const ms = (n: number) =>
    n >= 1000 ? `${+(n / 1000).toPrecision(4)} s` : `${+n.toPrecision(4)} ms`;
  const bars = h.map((b, i): { label: string; value: number; tone: Tone } => {
    const prev = h[i - 1]?.le ?? 0;
    const worst = b.le === null ? Math.max(prev, num(load.max) ?? prev) : b.le;
    return {
      label: b.le === null ? `> ${ms(prev)}` : `≤ ${ms(b.le)}`,
      value: b.count,
      tone: worst > 1000 ? 'bad' : worst > 500 ? 'warn' : 'info',
    };
  });
  // The bucket a target falls in (the first whose bound reaches it).
  const at = (target: number) => h.findIndex((b) => b.le !== null && b.le >= target);
  const avg = num(load.average);
  const p95 = num(load.p95);
  return barChart({
    title: `${w.latencyTitle} — avg ${avg?.toFixed(1) ?? '?'} ms · P95 ${p95?.toFixed(1) ?? '?'} ms · ${num(load.requests) ?? '?'} req · ${num(load.concurrency) ?? '?'} conn`,
    bars,
    yLabel: w.latencyY,
    markers: [
      { atIndex: at(500), label: 'avg target 500 ms', tone: 'warn' as Tone },
      { atIndex: at(1000), label: 'P95 target 1 s', tone: 'bad' as Tone },
    ].filter((m) => m.atIndex >= 0),
  });
}

/** Responses per second over the run (and the errors), when the run recorded a timeline. */
export function rpsPicture(load: Figures, w: Words): string | undefined {
  const t = (load.timeline ?? load.series) as Array<Record<string, unknown>> | undefined;
  if (!Array.isArray(t) || t.length === 0) return undefined;
  const points = t.map((p, i) => ({
    t: num(p.second) ?? num(p.t) ?? i,
    v: num(p.responses) ?? num(p.rps) ?? 0,
  }));
  const errors = t.map((p, i) => ({
    t: num(p.second) ?? num(p.t) ?? i,
    v: (num(p.errors) ?? 0) + (num(p.non2xx) ?? 0),
  }));
  return timeSeries({
    title: `${w.rpsTitle} — ${num(load.rps) ?? '?'} req/s`,
    points,
    errors,
    xLabel: w.rpsX,
    yLabel: w.rpsY,
    legend: { value: w.rpsLegend, errors: w.errorsLegend },
  });
}

/** Outage windows the probe saw: recorded windows if any, else first failure → recovery. */
function outages(probe: Figures | null | undefined): Array<{ from: number; to: number }> {
  if (!probe) return [];
  for (const key of ['outages', 'windows', 'outageWindows']) {
    const list = probe[key];
    if (Array.isArray(list))
      return list
        .map((o: Figures) => ({
          from: num(o.from) ?? num(o.start) ?? 0,
          to: num(o.to) ?? num(o.end) ?? 0,
        }))
        .filter((o) => o.to >= o.from);
  }
  const first = num(probe.firstFailureSeconds);
  if (first === undefined) return [];
  const to = num(probe.recoveredSeconds) ?? first + (num(probe.outageSeconds) ?? 0);
  return [{ from: first, to }];
}

function probeLane(r: Figures, w: Words, end: number) {
  const probe = r.probe as Figures | null | undefined;
  const windows = outages(probe);
  const segments: Array<{ from: number; to: number; tone: Tone; label?: string }> = [];
  let at = 0;
  for (const o of windows) {
    if (o.from > at) segments.push({ from: at, to: o.from, tone: 'ok', label: w.probeOk });
    segments.push({
      from: o.from,
      to: Math.max(o.to, o.from + 0.5),
      tone: 'bad',
      label: w.probeDown,
    });
    at = o.to;
  }
  if (end > at)
    segments.push({
      from: at,
      to: end,
      tone: probe ? 'ok' : 'none',
      label: probe ? w.probeOk : w.notRecorded,
    });
  const sent = num(probe?.sent);
  const failed = num(probe?.failed);
  return {
    label: w.probe,
    ...(sent !== undefined
      ? {
          events: [
            { at: end, label: `${failed ?? 0}/${sent} ✖`, tone: (failed ? 'bad' : 'ok') as Tone },
          ],
        }
      : {}),
    segments,
  };
}

/** One drill's timeline: the probe's successes and failures, the replacement or failover, RTO and RPO. */
export function drillPicture(name: string, r: Figures, w: Words): string {
  const rto = num(r.rtoSeconds);
  const markers: Array<{ at: number; label: string; tone: Tone }> = [];
  const lanesOut: Parameters<typeof lanes>[0]['lanes'] = [];
  let end = Math.max(rto ?? 0, num(r.timedOutAfterSeconds) ?? 0, 10);
  let footer = '';
  if (name === 'instance') {
    const down = num(r.unhealthyAfterSeconds);
    const inService = num(r.replacementInServiceAfterSeconds);
    const healthy = num(r.replacementHealthyAfterSeconds);
    end = Math.max(end, healthy ?? 0, inService ?? 0, down ?? 0) + 15;
    lanesOut.push({
      label: w.terminated,
      segments: [
        { from: 0, to: down ?? end, tone: 'warn', label: 'shutting-down' },
        ...(down !== undefined
          ? [{ from: down, to: end, tone: 'none' as Tone, label: str(r.takenOutAs) ?? 'out' }]
          : []),
      ],
      events: (Array.isArray(r.targetStates) ? (r.targetStates as Figures[]) : []).map((s) => ({
        at: num(s.afterSeconds) ?? 0,
        label: str(s.state) ?? '',
        tone: 'warn',
      })),
    });
    lanesOut.push({
      label: w.replacement,
      segments: [
        ...(inService !== undefined
          ? [{ from: 0, to: inService, tone: 'info' as Tone, label: 'Pending' }]
          : []),
        ...(inService !== undefined
          ? [{ from: inService, to: healthy ?? end, tone: 'warn' as Tone, label: 'InService' }]
          : []),
        ...(healthy !== undefined
          ? [{ from: healthy, to: end, tone: 'ok' as Tone, label: 'healthy' }]
          : []),
      ],
    });
    lanesOut.push(probeLane(r, w, end));
    footer = `${str(r.autoScalingGroupName) ?? ''}: ${str(r.instanceId) ?? '?'} (${str(r.availabilityZone) ?? '?'}) → ${str(r.replacementId) ?? '—'} (${str(r.replacementAvailabilityZone) ?? '—'}) · failed requests ${num(r.failedRequests) ?? '?'}`;
  } else if (name === 'rds-failover') {
    const available = num(r.availableAfterSeconds);
    end = Math.max(end, available ?? 0, num(r.appRecoveredAfterSeconds) ?? 0) + 15;
    lanesOut.push({
      label: w.dbLane,
      segments: [
        { from: 0, to: available ?? end, tone: 'warn', label: 'rebooting (failover)' },
        ...(available !== undefined
          ? [{ from: available, to: end, tone: 'ok' as Tone, label: 'available' }]
          : []),
      ],
      events: [
        { at: 0, label: `primary ${str(r.primaryAzBefore) ?? '?'}`, tone: 'info' },
        ...(available !== undefined
          ? [
              {
                at: available,
                label: `primary ${str(r.primaryAzAfter) ?? '?'}`,
                tone: 'ok' as Tone,
              },
            ]
          : []),
      ],
    });
    lanesOut.push(probeLane(r, w, end));
    const rpo = num(r.rpoSeconds);
    if (rpo !== undefined) footer = `${w.rpo} ${rpo} s (< 300 s: ${rpo < 300 ? '✔' : '✖'}) · `;
    const how = str(r.rpoEvidence);
    if (how) footer += `${how} · `;
    footer += `${str(r.dbInstanceIdentifier) ?? ''} failed over: ${flag(r.failedOver)} · ${str(r.primaryAzBefore) ?? '?'} → ${str(r.primaryAzAfter) ?? '?'}`;
  } else {
    end = Math.max(end, 60);
    lanesOut.push(probeLane(r, w, end));
    footer = `${str(r.availabilityZone) ?? ''} · restored: ${flag(r.restored)}`;
  }
  if (rto !== undefined)
    markers.push({
      at: rto,
      label: `${w.rto} ${rto.toFixed(0)} s`,
      tone: rto < 300 ? 'ok' : 'bad',
    });
  else markers.push({ at: end, label: `${w.rto} —`, tone: 'bad' });
  if (end > 300 || (rto ?? 0) > 240) markers.push({ at: 300, label: '5 min', tone: 'warn' });
  return lanes({
    title: `${w.drillTitle}: ${name} — ${str(r.at) ?? ''}`,
    lanes: lanesOut,
    markers,
    axisLabel: w.seconds,
    footer,
  });
}

/** What destroy removed and when, what it kept on purpose and why, what is still there. */
export interface CleanupReceipt {
  startedAt: string;
  finishedAt: string;
  steps: Array<{
    id: string;
    title: string;
    status: string;
    startedAt?: string;
    finishedAt?: string;
    ids: string[];
  }>;
  kept: Array<{ arn: string; region: string; note?: string }>;
  remaining: Array<{ arn: string; region: string; type?: string; note?: string }>;
  incomplete: string[];
}

export function cleanupPicture(r: CleanupReceipt, w: Words): string {
  const t0 = Date.parse(r.startedAt);
  const secs = (iso?: string) => (iso ? Math.max(0, (Date.parse(iso) - t0) / 1000) : 0);
  const removed = r.steps.filter((s) => s.status === 'destroyed');
  const rows = r.steps.map((s): Parameters<typeof spans>[0]['rows'][number] => ({
    label: s.id,
    from: secs(s.startedAt),
    to: Math.max(secs(s.finishedAt), secs(s.startedAt) + 0.5),
    tone: s.status === 'destroyed' ? 'ok' : 'bad',
    note: s.status === 'destroyed' ? '' : w.notRemoved,
  }));
  for (const k of r.kept)
    rows.push({
      label: `${w.kept}`,
      from: 0,
      to: 0.5,
      tone: 'warn',
      note: `${k.arn.split(':').slice(2, 6).join(':')} — ${k.note ?? ''}`,
    });
  for (const k of r.remaining)
    rows.push({ label: `${w.remaining}`, from: 0, to: 0.5, tone: 'bad', note: k.arn });
  return spans({
    title: `${w.cleanupTitle}: ${removed.length}/${r.steps.length} ${w.removed} · ${r.kept.length} ${w.kept} · ${r.remaining.length} ${w.remaining}`,
    rows,
    axisLabel: w.teardownAxis,
  });
}
