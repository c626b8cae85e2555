import type { MetricAlarm } from '@aws-sdk/client-cloudwatch';
import type { Aws } from '../aws/clients.js';
import type { Config } from '../config/schema.js';
import { ALARM_KEYS, alarmNames } from '../steps/phase2-monitoring/alarms.js';

const cwSdk = () => import('@aws-sdk/client-cloudwatch');

/** A picture CloudWatch drew, or why there is none. */
export interface AwsPicture {
  name: string;
  title: string;
  png?: Uint8Array;
  problem?: string;
  /** The graph's lines come from a SEARCH: whichever metrics matched in the window. */
  search?: boolean;
}

/** The time range every graph shows: the run's window (ISO times), padded a little. */
export interface Window {
  start: string;
  end: string;
}

const SIZE = { width: 760, height: 300 } as const;

async function draw(aws: Aws, widget: Record<string, unknown>): Promise<Uint8Array> {
  const { GetMetricWidgetImageCommand } = await cwSdk();
  const cw = await aws.get('cloudwatch');
  // OutputFormat "png": the SDKs get the bytes in MetricWidgetImage ("image/png" is only for
  // raw HTTP requests), per the API reference of GetMetricWidgetImage.
  const out = await cw.send(
    new GetMetricWidgetImageCommand({ MetricWidget: JSON.stringify(widget), OutputFormat: 'png' }),
  );
  if (!out.MetricWidgetImage || out.MetricWidgetImage.length === 0)
    throw new Error('CloudWatch returned no image');
  return out.MetricWidgetImage;
}

const problem = (e: unknown) =>
  `${(e as Error).name ?? 'Error'}: ${(e as Error).message ?? String(e)}`;

/**
 * The dashboard's metric widgets, each drawn by CloudWatch over the window, as the dashboard
 * holds them now (read back with GetDashboard, so the picture is of the live dashboard).
 *
 * The per-instance widgets go as they are, SEARCH included: a MetricWidget's `metrics` "can
 * include both raw metric and metric math expressions", an expression being any "valid CloudWatch
 * metric math expression" (GetMetricWidgetImage: Metric Widget Structure and Syntax,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Metric-Widget-Structure.html;
 * that page lists no graph feature the API leaves out), "Search expressions are a type of math
 * expression that you can add to CloudWatch graphs" (CloudWatch User Guide,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-search-expressions.html),
 * and the graph "can include all CloudWatch metric graph features, including metric math"
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricWidgetImage.html).
 * A search finds the metrics that reported in the window, so the picture shows each instance the
 * group held then, the one a drill replaced included (a search sees the past two weeks only).
 */
export async function dashboardPictures(
  aws: Aws,
  config: Config,
  window: Window,
): Promise<AwsPicture[]> {
  const { GetDashboardCommand } = await cwSdk();
  let body: { widgets?: Array<{ type?: string; properties?: Record<string, unknown> }> };
  try {
    const cw = await aws.get('cloudwatch');
    const out = await cw.send(
      new GetDashboardCommand({ DashboardName: config.monitoring.dashboardName }),
    );
    body = JSON.parse(out.DashboardBody ?? '{}') as typeof body;
  } catch (e) {
    return [{ name: 'dashboard', title: config.monitoring.dashboardName, problem: problem(e) }];
  }
  const widgets = (body.widgets ?? []).filter(
    (w) => w.type === 'metric' && Array.isArray(w.properties?.metrics),
  );
  const pictures: AwsPicture[] = [];
  for (const [i, w] of widgets.entries()) {
    const p = w.properties!;
    const title = typeof p.title === 'string' ? p.title : `widget ${i + 1}`;
    const name = `dashboard-${String(i + 1).padStart(2, '0')}`;
    try {
      const png = await draw(aws, {
        ...p,
        ...SIZE,
        start: window.start,
        end: window.end,
      });
      pictures.push({ name, title, png, ...(hasSearch(p.metrics) ? { search: true } : {}) });
    } catch (e) {
      pictures.push({ name, title, problem: problem(e) });
    }
  }
  return pictures;
}

function hasSearch(metrics: unknown): boolean {
  return (Array.isArray(metrics) ? metrics : []).some(
    (row) =>
      Array.isArray(row) &&
      row.some(
        (c) =>
          typeof (c as { expression?: unknown } | null)?.expression === 'string' &&
          /^\s*SEARCH\(/.test((c as { expression: string }).expression),
      ),
  );
}

const OPERATOR: Record<string, string> = {
  GreaterThanThreshold: '>',
  GreaterThanOrEqualToThreshold: '≥',
  LessThanThreshold: '<',
  LessThanOrEqualToThreshold: '≤',
};

/** One graph per alarm: its metric with the threshold as a line, over the window. */
export async function alarmPictures(
  aws: Aws,
  config: Config,
  window: Window,
): Promise<AwsPicture[]> {
  const { paginateDescribeAlarms } = await cwSdk();
  const names = ALARM_KEYS.map((k) => alarmNames(config)[k]);
  let alarms: MetricAlarm[];
  try {
    const cw = await aws.get('cloudwatch');
    alarms = [];
    for await (const page of paginateDescribeAlarms(
      { client: cw },
      { AlarmNames: names, AlarmTypes: ['MetricAlarm'] },
    ))
      alarms.push(...(page.MetricAlarms ?? []));
  } catch (e) {
    return [{ name: 'alarms', title: names.join(', '), problem: problem(e) }];
  }
  const pictures: AwsPicture[] = [];
  for (const [i, name] of names.entries()) {
    const file = `alarm-${String(i + 1).padStart(2, '0')}`;
    const a = alarms.find((x) => x.AlarmName === name);
    if (!a?.MetricName || !a.Namespace) {
      pictures.push({ name: file, title: name, problem: 'the alarm does not exist' });
      continue;
    }
    const dims = (a.Dimensions ?? []).flatMap((d) => [d.Name ?? '', d.Value ?? '']);
    const stat = a.Statistic ?? a.ExtendedStatistic ?? 'Average';
    const op = OPERATOR[a.ComparisonOperator ?? ''] ?? a.ComparisonOperator ?? '';
    const title = `${name}: ${a.MetricName} ${op} ${a.Threshold ?? '?'} (${a.EvaluationPeriods ?? '?'} × ${a.Period ?? '?'} s)`;
    try {
      const png = await draw(aws, {
        title,
        view: 'timeSeries',
        stacked: false,
        region: config.region,
        period: a.Period ?? 300,
        metrics: [[a.Namespace, a.MetricName, ...dims, { stat }]],
        annotations: {
          horizontal: [{ label: `${name} ${op} ${a.Threshold}`, value: a.Threshold ?? 0 }],
        },
        ...SIZE,
        start: window.start,
        end: window.end,
      });
      pictures.push({ name: file, title, png });
    } catch (e) {
      pictures.push({ name: file, title, problem: problem(e) });
    }
  }
  return pictures;
}
