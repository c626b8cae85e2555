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
import { restorableLagStatus } from '../steps/phase3-backup/rds-backups.js';

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
  /**
   * The outage the users saw: the /health probe's window from its first failed request to the
   * first success after the last failure (0 when none failed), as for the instance drill; RDS's
   * own "available again" (`availableAfterSeconds`) is its control plane's view, kept beside it.
   * null when the drill gave up or the app had not recovered.
   */
  rtoSeconds: number | null;
  /** The marker row written through the app before the failover and read after it. */
  marker: {
    id: string;
    url: string;
    /** Written this many seconds before the reboot; null when the write failed. */
    writtenBeforeSeconds: number | null;
    /** Read back after the failover: true, false (gone: data lost) or null (could not tell). */
    found: boolean | null;
    /** The last write or read failure, for the report. */
    error: string | null;
  } | null;
  /** Data committed before the failover is gone (the marker was not read back). */
  dataLost: boolean | null;
  /**
   * The data actually lost, seconds: 0 when the marker was read back; when it is gone, at least
   * the time from its write to the failover. null when it could not be measured.
   */
  rpoSeconds: number | null;
  rpoOk: boolean | null;
  /** How the RPO was measured, in a sentence. */
  rpoEvidence: string;
  /** Backup health (not the RPO): LatestRestorableTime after the drill and its lag. */
  latestRestorableTime: string | null;
  restorableLagSeconds: number | null;
  restorableLagStatus: 'pass' | 'warn' | 'fail' | null;
  probe: ProbeSummary | null;
}

/** Where the reference backend keeps drill markers. */
export const MARKER_PATH = '/api/drill-markers';

/**
 * RDS failover: RebootDBInstance with ForceFailover on the Multi-AZ instance; measure the time
 * until it is available again, the primary AZ before and after, the app's own outage seen
 * through /health (which checks the DB) every second, and the RPO: a marker row written through
 * the app before the failover and read back after it (0 when it survived; the data lost when
 * not). The latest restorable time is read as backup health beside it. Nothing to restore: the
 * old primary becomes the standby.
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
    `Before the reboot, write a marker row through the app (PUT ${joinUrl(snap.baseUrl, MARKER_PATH)}/<id>); once the app answers again, read it back: RPO = the data lost (0 when the marker survived; target < ${RPO_TARGET_SECONDS / 60} min)`,
    `Read LatestRestorableTime afterwards as a backup-health check (AWS keeps it typically within 5 min)`,
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
    marker: null,
    dataLost: null,
    rpoSeconds: null,
    rpoOk: null,
    rpoEvidence: 'not measured',
    latestRestorableTime: null,
    restorableLagSeconds: null,
    restorableLagStatus: null,
    probe: null,
    timedOut: false,
    timedOutAfterSeconds: null,
  };
  if (options.dryRun) return result;

  const { RebootDBInstanceCommand } = await rdssdk();
  const rds = await ctx.aws.get('rds');
  const prober = new Prober(ctx, url, probeIntervalMs, 3_000);
  const marker = await writeMarker(ctx, snap.baseUrl);
  result.marker = marker.record;
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
    const lag = Math.max(0, now - restorable.getTime());
    result.restorableLagSeconds = seconds(lag);
    result.restorableLagStatus = restorableLagStatus(lag);
  }
  // The RPO: read the marker back once the app answers again (not after a timeout: the app
  // may not be back, and a failed read would say nothing).
  if (result.marker && marker.writtenAt !== undefined && !timeout) {
    await readMarker(ctx, result.marker);
  }
  Object.assign(result, rpoFrom(result.marker, marker.writtenAt, t0));
  const appRecovered = probe.failed === 0 ? 0 : probe.recoveredSeconds;
  result.appOutageSeconds = probe.outageSeconds;
  result.appRecoveredAfterSeconds = appRecovered;
  result.rtoSeconds = timeout ? null : probe.outageWindowSeconds;
  result.probe = probe;
  if (timeout) throw new DrillTimeoutError<RdsFailoverDrillResult>(result, timeout);
  return result;
}

/** Write the marker; `writtenAt` is when the app acknowledged the write (the row is committed). */
async function writeMarker(
  ctx: DrillContext,
  baseUrl: string,
): Promise<{ record: NonNullable<RdsFailoverDrillResult['marker']> | null; writtenAt?: number }> {
  if (!ctx.marker) return { record: null };
  const id = `drill-${ctx.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  const url = `${joinUrl(baseUrl, MARKER_PATH)}/${id}`;
  const record = { id, url, writtenBeforeSeconds: null, found: null, error: null } as NonNullable<
    RdsFailoverDrillResult['marker']
  >;
  const out = await ctx.marker('PUT', url, 5_000);
  if (out.status === 201 || out.status === 200) {
    ctx.progress(`marker ${id} written through the app`);
    return { record, writtenAt: ctx.now() };
  }
  record.error =
    out.status === 404 || out.status === 405
      ? `the app has no marker route (PUT answered ${out.status}): the reference backend has it`
      : `PUT answered ${out.status ?? out.error ?? '?'}`;
  ctx.progress(`could not write the marker (${record.error}): the RPO will not be measured`);
  return { record };
}

/** Read the marker back: a few tries, since the app has just reconnected to the database. */
async function readMarker(
  ctx: DrillContext,
  record: NonNullable<RdsFailoverDrillResult['marker']>,
): Promise<void> {
  for (let attempt = 1; attempt <= 6; attempt++) {
    const out = await ctx.marker!('GET', record.url, 5_000);
    if (out.status === 200) {
      record.found = true;
      record.error = null;
      return;
    }
    if (out.status === 404) {
      record.found = false;
      record.error = null;
      return;
    }
    record.error = `GET answered ${out.status ?? out.error ?? '?'}`;
    if (attempt < 6) await ctx.sleep(5_000);
  }
}

/** The RPO from the marker: 0 when it survived; when it is gone, at least its age at the failover. */
function rpoFrom(
  marker: RdsFailoverDrillResult['marker'],
  writtenAt: number | undefined,
  failoverAt: number,
): Pick<RdsFailoverDrillResult, 'dataLost' | 'rpoSeconds' | 'rpoOk' | 'rpoEvidence'> {
  const before = writtenAt === undefined ? null : seconds(Math.max(0, failoverAt - writtenAt));
  if (marker && before !== null) marker.writtenBeforeSeconds = before;
  if (!marker)
    return {
      dataLost: null,
      rpoSeconds: null,
      rpoOk: null,
      rpoEvidence: 'no marker: not measured',
    };
  if (writtenAt === undefined)
    return {
      dataLost: null,
      rpoSeconds: null,
      rpoOk: null,
      rpoEvidence: `not measured: the marker could not be written (${marker.error ?? '?'})`,
    };
  if (marker.found === true)
    return {
      dataLost: false,
      rpoSeconds: 0,
      rpoOk: true,
      rpoEvidence: `a marker row written ${before} s before the failover was read back after it: no data lost`,
    };
  if (marker.found === false)
    return {
      dataLost: true,
      rpoSeconds: before,
      rpoOk: false,
      rpoEvidence: `a marker row written ${before} s before the failover is gone after it: committed data was lost`,
    };
  return {
    dataLost: null,
    rpoSeconds: null,
    rpoOk: null,
    rpoEvidence: `not measured: the marker could not be read back (${marker.error ?? 'the drill did not finish'})`,
  };
}
