/**
 * What the CloudWatch agent publishes for a given agent config: for each metric, the dimension
 * names of its series (and the values the config pins). A model of the agent, for tests that
 * check a dashboard's SEARCH schema against the config the instances run; it knows the `cpu` and
 * `mem` inputs (what cloudmart collects for the dashboard), nothing else.
 *
 * How the agent builds a series' dimensions (aws/amazon-cloudwatch-agent, read at
 * ab55b8daa204e95c42c0267ee5aa49ec3b3a7317):
 * - the input's own tags: telegraf's cpu input tags every point with `cpu` (`cpu-total` for the
 *   whole machine, `cpuN` per core); per-core only when `resources` holds "*"
 *   (translator/translate/metrics/metrics_collect/cpu/rulePerCpu.go), the total unless
 *   `totalcpu` is false (ruleTotalCpu.go, default true). The mem input has no tag of its own.
 * - `host`, unless append_dimensions is set: the ec2tagger processor then adds the appended
 *   dimensions and removes `host` (plugins/processors/ec2tagger/ec2tagger.go).
 * - aggregation_dimensions: one more series per group whose names the series all has, with only
 *   those dimensions, and only when the group is smaller than the series' own set
 *   (processor/rollupprocessor/processor.go, buildRollup).
 * Measurement names are the input's field prefixed with the input's name: `cpu_usage_active`
 * (a measurement ending in "active" turns report_active on: ruleReportActive.go).
 */
export interface AgentSeries {
  metricName: string;
  /** Sorted dimension names of the series. */
  dimensionNames: string[];
  /** Dimension values the config fixes (`cpu: "cpu-total"`); others depend on the instance. */
  fixed: Record<string, string>;
}

interface AgentConfig {
  metrics?: {
    namespace?: string;
    append_dimensions?: Record<string, string>;
    aggregation_dimensions?: string[][];
    metrics_collected?: Record<
      string,
      { measurement?: Array<string | { name: string }>; totalcpu?: boolean; resources?: string[] }
    >;
  };
}

export function agentSeries(config: unknown): AgentSeries[] {
  const metrics = (config as AgentConfig).metrics ?? {};
  const appended = Object.keys(metrics.append_dimensions ?? {});
  const base = appended.length > 0 ? appended : ['host'];
  const result: AgentSeries[] = [];
  for (const [input, settings] of Object.entries(metrics.metrics_collected ?? {})) {
    // The tag sets the input emits, with the values the config pins.
    let tagSets: Array<Record<string, string>>;
    if (input === 'cpu') {
      tagSets = [];
      if (settings.totalcpu !== false) tagSets.push({ cpu: 'cpu-total' });
      if ((settings.resources ?? []).includes('*')) tagSets.push({ cpu: 'cpuN' });
    } else if (input === 'mem') {
      tagSets = [{}];
    } else {
      continue;
    }
    for (const m of settings.measurement ?? []) {
      const field = typeof m === 'string' ? m : m.name;
      const metricName = field.startsWith(`${input}_`) ? field : `${input}_${field}`;
      for (const tags of tagSets) {
        const names = [...new Set([...base, ...Object.keys(tags)])].sort();
        result.push({ metricName, dimensionNames: names, fixed: { ...tags } });
        for (const group of metrics.aggregation_dimensions ?? []) {
          if (group.length < names.length && group.every((g) => names.includes(g))) {
            result.push({ metricName, dimensionNames: [...group].sort(), fixed: {} });
          }
        }
      }
    }
  }
  return result;
}
