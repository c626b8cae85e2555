import {
  costVerdict,
  estimateCost,
  usd,
  type CostEstimate,
  type PriceOverrides,
} from '../../cost/estimate.js';
import type { Config } from '../../config/schema.js';
import { CloudmartError } from '../../errors.js';
import type { Io } from '../io.js';
import { awsFactory, checkCredentials, readConfig, type GlobalOptions } from '../runtime.js';

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
  const verdict = costVerdict(e);
  out.push(
    verdict === 'within'
      ? `Within the budget of ${usd(e.budgetUsd)}.`
      : verdict === 'unpriced'
        ? `Not known to fit the budget of ${usd(e.budgetUsd)}: cloudmart has no price for ${e.unpriced.join(', ')} in ${e.region}, so the total is only a lower bound.`
        : `Over the budget of ${usd(e.budgetUsd)} by ${usd(e.total - e.budgetUsd)}: shorten the exercise, pick smaller instances, or raise budget.usd.`,
  );
  return out;
}

/**
 * What `plan` and `up` say about the cost, and the error (exit 2) when the estimate is over
 * the budget or cannot be priced and the user did not pass --accept-cost.
 */
export function budgetRefusal(
  config: Config,
  acceptCost: boolean,
): { lines: string[]; error: CloudmartError | undefined } {
  const estimate = estimateCost(config);
  const lines = renderEstimate(estimate);
  const verdict = costVerdict(estimate);
  if (verdict === 'within') return { lines, error: undefined };
  if (acceptCost) {
    lines.push('! Going ahead anyway: --accept-cost was given.');
    return { lines, error: undefined };
  }
  const why =
    verdict === 'over'
      ? `the estimate (${usd(estimate.total)}) is over budget.usd (${usd(estimate.budgetUsd)})`
      : `cloudmart has no price for ${estimate.unpriced.join(', ')} in ${estimate.region}, so it cannot tell whether the stack fits budget.usd (${usd(estimate.budgetUsd)})`;
  return {
    lines,
    error: new CloudmartError('USAGE', `Not building: ${why}`, {
      exitCode: 2,
      hint: `Pass --accept-cost to build it anyway, or change the config (see "cloudmart cost").`,
    }),
  };
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
    try {
      // --live asks for AWS's prices: without credentials that is an error, not a quiet
      // fall-back to the bundled table.
      await checkCredentials(aws);
      const { livePrices, otherTrails } = await import('../../cost/live.js');
      ({ overrides, notes } = await livePrices(aws, config));
      const t = await otherTrails(aws, config);
      trails = t.count;
      notes.push(...t.notes);
    } finally {
      await aws.destroy();
    }
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
  return costVerdict(estimate) === 'within' ? 0 : 1;
}
