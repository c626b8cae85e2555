import { estimateCost, usd, type CostEstimate, type PriceOverrides } from '../../cost/estimate.js';
import type { Io } from '../io.js';
import { awsFactory, readConfig, type GlobalOptions } from '../runtime.js';

/** The estimate as terminal lines (also used by `up` before Phase 1). */
export function renderEstimate(e: CostEstimate): string[] {
  const width = Math.max(...e.lines.map((l) => l.resource.length));
  const out = [
    `Estimated cost in ${e.region} for ${formatHours(e.hours)} (prices as of ${e.priceTableDate}, on-demand, approximate):`,
  ];
  for (const l of e.lines) {
    out.push(
      `  ${l.resource.padEnd(width)}  ${l.priced ? `$${l.usd.toFixed(4)}`.padStart(8) : '       ?'}  ${l.detail}${l.priced ? '' : ' (no bundled price)'}`,
    );
  }
  out.push(
    `  ${'Total'.padEnd(width)}  ${usd(e.total).padStart(8)}  (${usd(e.totalPerHour)}/hour${e.unpriced.length ? ', lower bound' : ''})`,
  );
  out.push(
    e.withinBudget
      ? `Within the budget of ${usd(e.budgetUsd)}.`
      : `Over the budget of ${usd(e.budgetUsd)} by ${usd(e.total - e.budgetUsd)}: shorten the exercise, pick smaller instances, or raise budget.usd.`,
  );
  return out;
}

function formatHours(h: number): string {
  return h < 1 ? `${Math.round(h * 60)} minutes` : `${Math.round(h * 100) / 100} hours`;
}

/** `cost`: offline estimate against the budget; `--live` refines prices with the Price List API. */
export async function costCommand(
  io: Io,
  opts: { hours?: number; json?: boolean; live?: boolean },
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const g = cmd.optsWithGlobals();
  const config = await readConfig(g);
  let overrides: PriceOverrides = {};
  let notes: string[] = [];
  let trails: number | undefined;
  if (opts.live) {
    const aws = awsFactory(g, config);
    const { livePrices, otherTrails } = await import('../../cost/live.js');
    ({ overrides, notes } = await livePrices(aws, config));
    const t = await otherTrails(aws, config);
    trails = t.count;
    notes.push(...t.notes);
    await aws.destroy();
  }
  const estimate = estimateCost(
    config,
    opts.hours ?? config.budget.hours,
    overrides,
    trails !== undefined ? { otherTrails: trails } : {},
  );
  if (opts.json) {
    io.out(JSON.stringify({ ...estimate, ...(opts.live ? { liveNotes: notes } : {}) }, null, 2));
  } else {
    for (const line of renderEstimate(estimate)) io.out(line);
    for (const n of notes) io.err(`! live prices: ${n}`);
  }
  return estimate.withinBudget ? 0 : 1;
}
