import type { CloudmartError } from '../errors.js';
import { joinUrl } from '../load/target.js';
import {
  DrillTimeoutError,
  isTimeout,
  RPO_TARGET_SECONDS,
  seconds,
  type DrillContext,
  type TimeoutFigures,
} from './context.js';
import { observe, Prober, type ProbeSummary } from './observe.js';
import { describeDb, preflight } from './preflight.js';

const rdssdk = () => import('@aws-sdk/client-rds');

/**
 * The app's deep health check (DB and Redis). Not `app.healthCheckPath`: the ALB checks a
 * liveness path on purpose, so a failover does not get every instance replaced.
 */
export const DEEP_HEALTH_PATH = '/health';

export interface RdsFailoverDrillOptions {
  dryRun?: boolean;
  /** Give up after this long (default 20 min). */
  timeoutMs?: number;
  /** /health probe interval (default 1 s). */
  probeIntervalMs?: number;
  /** AWS poll interval (default 5 s). */
  pollIntervalMs?: number;
  /** The app counts as reconnected after this many successful probes in a row (default 5). */
  healthyStreak?: number;
  /** How long to keep probing for the app after RDS is available again (default 5 min). */
  appGraceMs?: number;
}

export interface RdsFailoverDrillResult extends TimeoutFigures {
  drill: 'rds-failover';
  at: string;
  dryRun: boolean;
  plan: string[];
  dbInstanceIdentifier: string;
  primaryAzBefore: string;
  /** The standby's AZ before the failover (where the primary should move). */
  standbyAzBefore: string | null;
  primaryAzAfter: string | null;
  failedOver: boolean | null;
  /** Seconds from the reboot until RDS was `available` again. */
  availableAfterSeconds: number | null;
  /** How long /health failed through the ALB (first failure → first success after), seconds. */
  appOutageSeconds: number | null;
  /** Seconds from the reboot until /health answered again after the last failure (0: never failed). */
  appRecoveredAfterSeconds: number | null;
  /** max(RDS available again, app answering again). */
  rtoSeconds: number | null;
  latestRestorableTime: string | null;
  /** Now − LatestRestorableTime after the failover: the data a restore would lose, seconds. */
  rpoSeconds: number | null;
  rpoOk: boolean | null;
  probe: ProbeSummary | null;
}

/**
 * RDS failover: RebootDBInstance with ForceFailover on the Multi-AZ instance; measure the time
 * until it is available again, the primary AZ before and after, the app's own outage seen
 * through /health (which checks the DB) every second, and the RPO from the latest restorable
 * time. Nothing to restore: the old primary becomes the standby.
 */
export async function runRdsFailoverDrill(
  ctx: DrillContext,
  options: RdsFailoverDrillOptions = {},
): Promise<RdsFailoverDrillResult> {
  const healthPath = DEEP_HEALTH_PATH;
  const snap = await preflight(ctx, 'rds-failover', healthPath);
  const id = snap.rds.dbInstanceIdentifier;
  const azBefore = snap.db.AvailabilityZone ?? '?';
  const standby = snap.db.SecondaryAvailabilityZone ?? null;
  const url = joinUrl(snap.baseUrl, healthPath);
  const probeIntervalMs = options.probeIntervalMs ?? 1_000;
  const streakWanted = options.healthyStreak ?? 5;
  const plan = [
    `Reboot ${id} with ForceFailover=true: the standby${standby ? ` in ${standby}` : ''} becomes the primary (now in ${azBefore})`,
    `Wait until ${id} is available again (up to ${Math.round((options.timeoutMs ?? 20 * 60_000) / 60_000)} min) and read the primary AZ after`,
    `Meanwhile GET ${url} every ${probeIntervalMs / 1000} s to measure the app's own outage and reconnection`,
    `Read LatestRestorableTime afterwards: RPO = now − latest restorable time (target < ${RPO_TARGET_SECONDS / 60} min)`,
  ];
  const result: RdsFailoverDrillResult = {
    drill: 'rds-failover',
    at: new Date(ctx.now()).toISOString(),
    dryRun: options.dryRun === true,
    plan,
    dbInstanceIdentifier: id,
    primaryAzBefore: azBefore,
    standbyAzBefore: standby,
    primaryAzAfter: null,
    failedOver: null,
    availableAfterSeconds: null,
    appOutageSeconds: null,
    appRecoveredAfterSeconds: null,
    rtoSeconds: null,
    latestRestorableTime: null,
    rpoSeconds: null,
    rpoOk: null,
    probe: null,
    timedOut: false,
    timedOutAfterSeconds: null,
  };
  if (options.dryRun) return result;

  const { RebootDBInstanceCommand } = await rdssdk();
  const rds = await ctx.aws.get('rds');
  const prober = new Prober(ctx, url, probeIntervalMs, 3_000);
  ctx.progress(`rebooting ${id} with failover (primary in ${azBefore})`);
  prober.fire();
  await rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: id, ForceFailover: true }));
  const t0 = ctx.now();
  prober.setOrigin(t0);
  result.at = new Date(t0).toISOString();

  let seenDown = false;
  let availableAt: number | undefined;
  const grace = options.appGraceMs ?? 5 * 60_000;
  let timeout: CloudmartError | undefined;
  try {
    await observe(ctx, {
      what: `failover of ${id}`,
      pollEveryMs: options.pollIntervalMs ?? 5_000,
      timeoutMs: options.timeoutMs ?? 20 * 60_000,
      prober,
      poll: async () => {
        const elapsed = ctx.now() - t0;
        if (availableAt === undefined) {
          const db = await describeDb(ctx, id);
          const status = db?.DBInstanceStatus ?? 'not found';
          if (status !== 'available') seenDown = true;
          // Right after the call RDS may still say "available" for a moment: accept it only once
          // it was seen rebooting, or the primary moved, or long after a failover would be seen.
          const moved = db?.AvailabilityZone !== undefined && db.AvailabilityZone !== azBefore;
          if (status === 'available' && (seenDown || moved || elapsed >= 120_000)) {
            availableAt = elapsed;
            result.availableAfterSeconds = seconds(elapsed);
            ctx.progress(`${id} is available again after ${result.availableAfterSeconds} s`);
          } else {
            return {
              done: false,
              status: `RDS ${status}; app ${prober.streak() > 0 ? 'up' : 'down'}`,
            };
          }
        }
        // RDS is back: the app must reconnect (its pool drops the dead connections).
        const streak = prober.streak();
        if (streak >= streakWanted) return { done: true, status: 'app answering' };
        if (elapsed - availableAt >= grace) return { done: true, status: 'app still failing' };
        return { done: false, status: `RDS available; app ${streak > 0 ? 'recovering' : 'down'}` };
      },
    });
  } catch (e) {
    if (!isTimeout(e)) throw e;
    // Keep what was measured: RDS or the app never came back within the time given.
    timeout = e;
    result.timedOut = true;
    result.timedOutAfterSeconds = seconds(ctx.now() - t0);
  }
  const probe = await prober.settle();
  // After a timeout, a failing read must not lose what was measured.
  const after = await describeDb(ctx, id).catch((e: unknown) => {
    if (timeout) return undefined;
    throw e;
  });
  const now = ctx.now();
  result.primaryAzAfter = after?.AvailabilityZone ?? null;
  result.failedOver = result.primaryAzAfter !== null ? result.primaryAzAfter !== azBefore : null;
  const restorable = after?.LatestRestorableTime;
  if (restorable) {
    result.latestRestorableTime = restorable.toISOString();
    result.rpoSeconds = Math.max(0, seconds(now - restorable.getTime()));
    result.rpoOk = result.rpoSeconds < RPO_TARGET_SECONDS;
  }
  const appRecovered = probe.failed === 0 ? 0 : probe.recoveredSeconds;
  result.appOutageSeconds = probe.outageSeconds;
  result.appRecoveredAfterSeconds = appRecovered;
  result.rtoSeconds =
    timeout || appRecovered === null || result.availableAfterSeconds === null
      ? null
      : Math.max(result.availableAfterSeconds, appRecovered);
  result.probe = probe;
  if (timeout) throw new DrillTimeoutError<RdsFailoverDrillResult>(result, timeout);
  return result;
}
