import { runAzDrill, type AzDrillOptions, type AzDrillResult } from './az-drill.js';
import {
  DrillTimeoutError,
  RTO_TARGET_SECONDS,
  type DrillContext,
  type DrillName,
} from './context.js';
import {
  runInstanceDrill,
  type InstanceDrillOptions,
  type InstanceDrillResult,
} from './instance-drill.js';
import {
  runRdsFailoverDrill,
  type RdsFailoverDrillOptions,
  type RdsFailoverDrillResult,
} from './rds-failover-drill.js';

export type DrillResult = InstanceDrillResult | RdsFailoverDrillResult | AzDrillResult;
export type DrillOptions = InstanceDrillOptions & RdsFailoverDrillOptions & AzDrillOptions;

export function runDrill(
  name: DrillName,
  ctx: DrillContext,
  options: DrillOptions = {},
): Promise<DrillResult> {
  switch (name) {
    case 'instance':
      return runInstanceDrill(ctx, options);
    case 'rds-failover':
      return runRdsFailoverDrill(ctx, options);
    case 'az':
      return runAzDrill(ctx, options);
  }
}

export interface DrillVerdict {
  /** RTO measured and under 5 minutes. */
  rtoOk: boolean;
  /** Everything the seed expects of this drill (no failed request, RPO, restored, …). */
  ok: boolean;
  /** One line per finding, for the report. */
  findings: string[];
}

/** A drill that gave up waiting, with what it measured until then. */
export function isDrillTimeout(e: unknown): e is DrillTimeoutError<DrillResult> {
  return e instanceof DrillTimeoutError;
}

/** How a drill's figures read against the seed (RTO < 5 min, no interruption, RPO < 5 min). */
export function drillVerdict(r: DrillResult): DrillVerdict {
  const rtoOk = r.rtoSeconds !== null && r.rtoSeconds < RTO_TARGET_SECONDS;
  const findings = [
    r.rtoSeconds === null
      ? r.timedOut
        ? `RTO not measured: gave up waiting for the recovery after ${r.timedOutAfterSeconds ?? '?'} s`
        : 'RTO not measured'
      : `RTO ${r.rtoSeconds} s ${rtoOk ? '<' : '≥'} ${RTO_TARGET_SECONDS} s`,
  ];
  // The AZ simulation measures its RTO before the restore, which can still time out.
  if (r.timedOut && r.rtoSeconds !== null)
    findings.push(`gave up waiting after ${r.timedOutAfterSeconds ?? '?'} s`);
  let ok = rtoOk && !r.timedOut;
  if (r.drill === 'instance') {
    findings.push(
      r.failedRequests === 0
        ? 'no request failed while the instance was replaced'
        : `${r.failedRequests} request(s) failed while the instance was replaced (the seed expects none)`,
    );
    ok &&= r.failedRequests === 0;
  } else if (r.drill === 'rds-failover') {
    findings.push(
      r.rpoOk === null ? `RPO ${r.rpoEvidence}` : `RPO ${r.rpoSeconds} s: ${r.rpoEvidence}`,
    );
    if (r.restorableLagStatus && r.restorableLagStatus !== 'pass')
      findings.push(
        `backup health: the latest restorable time is ${r.restorableLagSeconds} s behind (${r.restorableLagStatus})`,
      );
    if (r.failedOver === false)
      findings.push(`the primary stayed in ${r.primaryAzBefore}: no failover was seen`);
    ok &&= r.rpoOk === true && r.failedOver !== false;
  } else {
    findings.push(
      r.serviceStayedUp
        ? `the service stayed up without ${r.availabilityZone}`
        : `${r.failedRequests} request(s) failed without ${r.availabilityZone}`,
      r.restored ? 'everything was restored' : 'NOT restored',
    );
    ok &&= r.serviceStayedUp === true && r.restored;
  }
  return { rtoOk, ok, findings };
}

/**
 * What goes into the state (`results.drills[name]`): the figures, without the plan text.
 */
export function drillRecord(
  r: DrillResult,
): Record<string, unknown> & { at: string; rtoSeconds: number | null } {
  const { plan: _plan, dryRun: _dry, ...figures } = r;
  return { ...figures, at: r.at, rtoSeconds: r.rtoSeconds, passed: drillVerdict(r).ok };
}

export {
  DRILL_NAMES,
  DrillTimeoutError,
  RTO_TARGET_SECONDS,
  RPO_TARGET_SECONDS,
  httpProbe,
} from './context.js';
export type { DrillContext, DrillName, Probe, ProbeOutcome } from './context.js';
