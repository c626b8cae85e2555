import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { drillRecord } from '../../src/drills/index.js';
import { loadRecord } from '../../src/load/load-test.js';
import { words } from '../../src/report/i18n.js';
import type { HandIn } from '../../src/report/model.js';
import { anchor, renderHtml, renderMarkdown } from '../../src/report/render.js';
import { StateStore } from '../../src/state/store.js';
import { cpuSearch, memorySearch } from '../../src/steps/phase2-monitoring/dashboard.js';
import { modelLoadRun } from '../../scripts/example-report.js';
import { instanceDrillResult } from '../drills/fixtures.js';
import { awsError, FakeCloud } from '../helpers/fake-cloud/index.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';

/** The twelve picture places of the seed, and the sections around them. */
const PLACES = [
  'dashboard',
  'alarms',
  'logs',
  'rds-backup',
  's3-versioning',
  'aws-backup',
  'encryption',
  'cloudtrail',
  'flow-logs',
  'load',
  'failure',
  'cleanup',
];
const SECTIONS = ['architecture', ...PLACES, 'criteria', 'score'];
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const images = (md: string) =>
  [...md.matchAll(/!\[[^\]]*\]\(images\/([^)]+)\)/g)].map((m) => m[1]!);

describe('the hand-in report (verify --report, destroy --report) against the fake cloud', () => {
  let cloud: FakeCloud;
  beforeEach(async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
  });
  afterEach(() => cloud.uninstall());

  const run = async (args: string[]) => {
    const io = recordingIo();
    const code = await main(['node', 'cloudmart', ...args], io);
    return { code, io, err: io.stderr.join('\n') };
  };

  it('writes every section with its pictures, AWS-drawn graphs of the dashboard and of each alarm with its threshold, and the score', async () => {
    const dir = tempDir();
    const state = join(dir, 's.json');
    expect((await run(['up', '--yes', '--to', '4', '--state', state])).code).toBe(0);

    // Results of Phase 5 as `cloudmart load` and `cloudmart drill` record them.
    const store = new StateStore(state);
    await store.load('cloudmart', 'ap-northeast-2');
    const load = modelLoadRun({
      requests: 1000,
      concurrency: 100,
      seconds: 4,
      at: '2026-01-01T00:00:00.000Z',
      seed: 3,
    });
    const drill = instanceDrillResult('2026-01-01T00:10:00.000Z');
    await store.update((s) => {
      s.results.load = { ...loadRecord(load, undefined), at: load.at };
      s.results.drills = { instance: drillRecord(drill) };
    });

    const mark = cloud.lastSeq;
    const report = join(dir, 'report');
    const verify = await run(['verify', '--json', '--report', report, '--state', state]);
    const result = JSON.parse(verify.io.stdout.join('\n'));
    expect(verify.err).toContain(`Report written to ${report}/index.html`);
    // Read-only: drawing the report changes nothing in AWS.
    expect(cloud.mutatingCalls(mark)).toEqual([]);

    const md = readFileSync(join(report, 'report.md'), 'utf8');
    const html = readFileSync(join(report, 'index.html'), 'utf8');
    for (const id of SECTIONS) {
      expect(md, id).toContain(`<a id="${anchor(id)}"></a>`);
      expect(html, id).toContain(`id="${anchor(id)}"`);
    }
    expect(md).toContain(`**Score: ${result.score.total}/100 — grade ${result.score.grade}**`);
    // Every picture the report names is there, and nothing else is.
    const named = images(md);
    expect([...named].sort()).toEqual(readdirSync(join(report, 'images')).sort());
    for (const f of named) expect(html).toContain(`src="images/${f}"`);

    // CloudWatch drew one graph per metric widget of the live dashboard…
    const body = JSON.parse(
      (
        (await cloud.call('cloudwatch', 'GetDashboard', {
          DashboardName: 'CloudMart-Production',
        })) as { DashboardBody: string }
      ).DashboardBody,
    ) as { widgets: Array<{ type: string }> };
    const metricWidgets = body.widgets.filter((w) => w.type === 'metric').length;
    const dash = named.filter((f) => f.startsWith('dashboard-'));
    expect(dash).toHaveLength(metricWidgets);
    // …and one per alarm: its metric, with its threshold as a horizontal line.
    const alarms = (
      (await cloud.call('cloudwatch', 'DescribeAlarms', { AlarmNamePrefix: 'CloudMart-' })) as {
        MetricAlarms: Array<{ AlarmName: string; Threshold: number; MetricName: string }>;
      }
    ).MetricAlarms;
    expect(named.filter((f) => f.startsWith('alarm-'))).toHaveLength(5);
    const widgets = cloud.calls
      .filter((c) => c.command === 'GetMetricWidgetImage')
      .map(
        (c) =>
          JSON.parse((c.input as Record<string, unknown>).MetricWidget as string) as {
            title: string;
            start: string;
            end: string;
            metrics: unknown[][];
            annotations: { horizontal: Array<{ value: number }> };
          },
      );
    expect(widgets).toHaveLength(metricWidgets + 5);
    for (const a of alarms.filter((x) => !x.AlarmName.includes('TargetTracking'))) {
      const w = widgets.find((x) => String(x.title).startsWith(`${a.AlarmName}:`));
      expect(w, a.AlarmName).toBeDefined();
      expect(w!.metrics[0]?.[1]).toBe(a.MetricName);
      expect(w!.annotations.horizontal[0]?.value).toBe(a.Threshold);
    }
    for (const w of widgets) {
      expect(w.start < w.end).toBe(true);
      expect(w.metrics.length).toBeGreaterThan(0);
    }
    // The per-instance graphs go to CloudWatch with their SEARCH as the dashboard holds it:
    // GetMetricWidgetImage draws metric math, and SEARCH is metric math (see aws-images.ts).
    const live = body.widgets as Array<{
      type: string;
      properties: { title: string; metrics: unknown[] };
    }>;
    for (const [title, search] of [
      ['EC2 CPU per instance (%)', cpuSearch('cloudmart-asg')],
      ['EC2 memory per instance (%)', memorySearch('cloudmart-asg')],
    ] as const) {
      const sent = widgets.find((x) => x.title === title);
      expect(sent, title).toBeDefined();
      expect(sent!.metrics).toEqual(
        live.find((x) => x.properties?.title === title)!.properties.metrics,
      );
      expect(sent!.metrics[0]).toEqual([expect.objectContaining({ expression: search })]);
    }
    expect(md).toMatch(/!\[EC2 CPU per instance \(%\)\]\(images\/dashboard-\d+\.png\)/);
    // …and the report says what their lines are.
    expect(md).toContain(
      '> EC2 CPU per instance (%), EC2 memory per instance (%): one line per instance that published',
    );
    for (const f of named.filter((x) => x.endsWith('.png')))
      expect(readFileSync(join(report, 'images', f)).subarray(0, 8)).toEqual(PNG);
    // cloudmart's own pictures are self-contained SVG.
    for (const f of named.filter((x) => x.endsWith('.svg'))) {
      const svg = readFileSync(join(report, 'images', f), 'utf8');
      expect(svg.startsWith('<svg xmlns=')).toBe(true);
      expect(svg).not.toMatch(/href=|<script|url\(/);
    }
    expect(named).toEqual(
      expect.arrayContaining([
        'architecture.svg',
        'load-latency.svg',
        'load-rps.svg',
        'drill-instance.svg',
      ]),
    );
    // The architecture names this stack's live ids.
    const instances = cloud.resources({ type: 'ec2:instance', live: true }).map((r) => r.id);
    const arch = readFileSync(join(report, 'images', 'architecture.svg'), 'utf8');
    for (const id of instances) expect(arch).toContain(id);
    // Offline: nothing to fetch, and a policy that forbids fetching anything else.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).toContain("default-src 'none'");

    // Not run yet: the RDS failover has no picture, the criteria say so, cleanup is pending.
    expect(md).not.toContain('drill-rds-failover.svg');
    expect(md).toMatch(/\? not known \| Everything removed after the exercise \| not removed yet/);

    // destroy --report adds the cleanup receipt to the same report.
    const destroy = await run(['destroy', '--yes', '--report', report, '--state', state]);
    expect(destroy.code, destroy.err).toBe(0);
    const after = readFileSync(join(report, 'report.md'), 'utf8');
    expect(images(after)).toEqual([...named, 'cleanup.svg']);
    expect(existsSync(join(report, 'images', 'cleanup.svg'))).toBe(true);
    expect(after).toMatch(
      /✔ pass \| Everything removed after the exercise \| \d+\/\d+ steps removed, \d+ kept on purpose, 0 still there/,
    );
    expect(after).toContain('kept on purpose: arn:aws:kms');
    // In the seed's cleanup order: the trail first.
    const receipt = after.slice(
      after.indexOf(`<a id="${anchor('cleanup')}">`),
      after.indexOf(`<a id="${anchor('criteria')}">`),
    );
    expect(receipt.match(/^\| ✔ pass \| ([^|]+) \| removed /m)?.[1]).toBe('CloudTrail audit trail');
    expect(receipt).not.toMatch(/✖ fail/);
  });

  it('when CloudWatch refuses to draw, says why under the place instead of showing a broken picture', async () => {
    const dir = tempDir();
    const state = join(dir, 's.json');
    expect((await run(['up', '--yes', '--to', '2', '--state', state])).code).toBe(0);
    cloud.onCall((c) => {
      if (c.phase === 'before' && c.command === 'GetMetricWidgetImage')
        throw awsError(
          'cloudwatch',
          'AccessDenied',
          'User is not authorized to perform: cloudwatch:GetMetricWidgetImage',
          403,
        );
    });
    const report = join(dir, 'r');
    await run(['verify', '--report', report, '--state', state, '--lang', 'ko']);
    const md = readFileSync(join(report, 'report.md'), 'utf8');
    expect(images(md).filter((f) => f.endsWith('.png'))).toEqual([]);
    expect(md).toContain(
      'AccessDenied: User is not authorized to perform: cloudwatch:GetMetricWidgetImage',
    );
    expect(images(md).sort()).toEqual(readdirSync(join(report, 'images')).sort());
    // In Korean, the challenge's own words for the places.
    const ko = words('ko');
    for (const id of PLACES) expect(md).toContain(ko.places[id]!);
    expect(md).toContain('## 성공 기준');
    expect(readFileSync(join(report, 'index.html'), 'utf8')).toContain('<html lang="ko">');
  });

  it('escapes what AWS or a check says: no markup from evidence reaches the page', async () => {
    const model: HandIn = {
      version: 1,
      lang: 'en',
      stack: 'x',
      region: 'r',
      at: 'now',
      score: { total: 0, grade: 'F', items: [], notMeasured: [] },
      criteria: [],
      sections: [
        {
          id: 'logs',
          phase: 2,
          place: 3,
          pictures: [],
          notes: ['<img src=x onerror=alert(1)>'],
          checks: [
            {
              id: 'a',
              step: 's',
              criterion: 'other',
              title: 'T | [x](http://evil)',
              status: 'fail',
              evidence: '<script>alert(1)</script> *b* _c_',
              fix: 'a | b `c`',
            },
          ],
        },
      ],
    };
    const md = renderMarkdown(model);
    const html = await renderHtml(model, md);
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('href="http://evil"');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // The table keeps its four cells: the pipes in the title and the fix are escaped.
    expect(
      md
        .split('\n')
        .find((l) => l.startsWith('| ✖'))!
        .split(/(?<!\\)\|/),
    ).toHaveLength(6);
  });
});
