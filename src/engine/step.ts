import type { Aws } from '../aws/clients.js';
import type { Config } from '../config/schema.js';
import type { Results } from '../state/store.js';

export type Phase = 1 | 2 | 3 | 4 | 5;

/** JSON-serialisable outputs of a step: ids, ARNs, names. Never a secret value. */
export type Outputs = Record<string, unknown>;

/** The rubric items of the seed a check contributes to (verify scores from these). */
export type Criterion =
  | 'multi-az'
  | 'security-design'
  | 'scalability'
  | 'auto-scaling'
  | 'rds-multi-az'
  | 'failure-recovery'
  | 'dashboard'
  | 'alarms'
  | 'encryption'
  | 'iam'
  | 'audit-logs'
  | 'backup'
  | 'performance'
  | 'cost'
  | 'other';

export type CheckStatus = 'pass' | 'fail' | 'warn' | 'unknown';

export interface Check {
  /** Stable id, e.g. `network.nat.per-az`. */
  id: string;
  title: string;
  criterion: Criterion;
  status: CheckStatus;
  /** What was read from the live stack that decides the status. */
  evidence: string;
  /** How to fix a failure (usually a command). */
  fix?: string;
}

export interface TagSet {
  /** `[{ Key, Value }]` as EC2, RDS, ElastiCache, ELB, IAM, … take them. */
  list(name: string, extra?: Record<string, string>): Array<{ Key: string; Value: string }>;
  /** `{ key: value }` as Lambda-style APIs (SNS uses list, CloudWatch Logs uses map). */
  map(name: string, extra?: Record<string, string>): Record<string, string>;
}

/**
 * Everything a step may use. Steps never build clients, read process.env, prompt or print:
 * they talk to AWS through `aws`, report through `progress`, and honour `signal`.
 */
export interface StepContext {
  readonly config: Config;
  readonly aws: Aws;
  /** The id of the step being run. */
  readonly stepId: string;
  /** Outputs of a step in `needs` (throws when it has none). */
  outputs<T extends Outputs = Outputs>(stepId: string): T;
  /** Outputs of a step if recorded, else undefined (for optional needs). */
  maybeOutputs<T extends Outputs = Outputs>(stepId: string): T | undefined;
  /** This step's own outputs from the last successful run (resume, teardown), if any. */
  readonly previous: Outputs | undefined;
  /** Tags for resources of this step: cloudmart:stack, cloudmart:step, Name, config tags. */
  readonly tags: TagSet;
  /** A human-readable progress line: "RDS cloudmart-db: creating". */
  progress(message: string): void;
  /** A warning the user must see (e.g. "KMS key scheduled for deletion in 7 days"). */
  warn(message: string): void;
  readonly signal: AbortSignal;
  /** Abortable sleep; tests replace it with an instant one. */
  sleep(ms: number): Promise<void>;
  /** Clock in ms; tests replace it. */
  now(): number;
  /** Read-only: the Phase 5 results `cloudmart load` and `cloudmart drill` recorded. */
  results?(): Results;
  /**
   * Hand off a wait that no later step needs, only `verify` (automated-backup replication
   * reaching `replicating`, the manual snapshot `available`, CloudFront `Deployed`): `up` runs
   * it off the critical path, and waits for it at its end only when asked to (`up --drills`);
   * otherwise it reports it as still settling. Absent (unit-test contexts): `settleLater`
   * waits inline.
   */
  settle?(what: string, wait: () => Promise<void>): void;
  /**
   * Ordering inside a step, for a step it does not need to start: resolves true once that step
   * of this run succeeded (or, outside the run, is done in the state), false when it failed or
   * was skipped. E.g. the Auto Scaling group launches its instances at once and waits for the
   * app settings only before it waits for healthy targets. Absent in unit-test contexts.
   */
  whenDone?(stepId: string): Promise<boolean>;
}

/**
 * Wait for `wait` off the critical path when the engine offers it (`ctx.settle`), else now.
 * `what` names the wait for the user: "backup replication of cloudmart-db to ap-northeast-1".
 */
export async function settleLater(
  ctx: StepContext,
  what: string,
  wait: () => Promise<void>,
): Promise<void> {
  if (ctx.settle) ctx.settle(what, wait);
  else await wait();
}

/** Something of the stack still in AWS after destroy, as the leftover sweep reports it. */
export interface Leftover {
  arn: string;
  /** The resource's region; `global` for IAM. */
  region: string;
  /** `ec2:natgateway`, `kms:key`, `logs:log-group`, … */
  type: string;
  /** Kept on purpose (KMS key pending deletion, backups the config keeps): not a failure. */
  kept: boolean;
  /**
   * Only listed by the Tagging API, which keeps listing deleted resources (a terminated
   * instance's volumes, listeners, rules) for minutes to hours, and not confirmed with the
   * resource's own service: reported, not a failure. Types that bill are always confirmed.
   */
  unconfirmed?: boolean;
  note?: string;
}

/**
 * How a step finds what it makes without a state file: the same names and tags its create
 * adopts with. The leftover sweep after destroy asks every step; the engine knows no resource.
 */
export interface Discovery {
  /** Names the lookup in a report when it fails: "CloudWatch dashboard". */
  what: string;
  /**
   * What this step makes that the Resource Groups Tagging API cannot list (IAM roles and
   * instance profiles, Auto Scaling groups, dashboards, log groups AWS creates untagged).
   */
  find?(aws: Aws, config: Config): Promise<Leftover[]>;
  /**
   * Why a live resource the Tagging API listed is kept on purpose by this step (a final
   * snapshot, the key that kept backups are encrypted with), or undefined. Throws when it
   * cannot tell.
   */
  keeps?(aws: Aws, config: Config, listed: Leftover): Promise<string | undefined>;
  /**
   * A resource of this step the Tagging API listed, checked with its own service (the Tagging
   * API keeps listing deleted resources): false when it is gone, the leftover (kept, or with a
   * note) when it is live, undefined when the type is not this step's. NotFound means gone.
   */
  confirm?(aws: Aws, config: Config, listed: Leftover): Promise<Leftover | false | undefined>;
}

export interface Step<O extends Outputs = Outputs> {
  id: string;
  phase: Phase;
  title: string;
  /** Ids of steps whose outputs this step reads; the scheduler starts it once they are done. */
  needs: string[];
  /** When false for a config, the step is skipped (e.g. DNS without a domain). */
  enabled?(config: Config): boolean;
  /** Offline description of what create will make, for `plan`. */
  describe(config: Config): string[];
  /** The IAM actions this step calls, for `cloudmart policy`. */
  actions: string[];
  /**
   * Read-only checks that need the account (a name taken, a quota reached), run by `up` for
   * every selected step not yet done before the first step starts, so a stack that would stop
   * half-way is refused before anything bills. Throws a CloudmartError to refuse.
   */
  preflight?(ctx: StepContext): Promise<void>;
  /** Offline description of what `preflight` checks, for `plan` ("Elastic IPs: 2 free of …"). */
  preflightChecks?(config: Config): string[];
  /**
   * The preflight makes something (free) to learn what no read can tell: it runs after every
   * read-only preflight has passed, and only when the step's phase was confirmed.
   */
  preflightCreates?: boolean;
  /**
   * Position in the seed's cleanup order; steps with a rank are torn down first, lowest rank
   * first (CloudTrail trail 1, alarms 2, dashboard 3, Backup plan 4, RDS snapshots 5). The order
   * is soft: a step starts once the lower ranks have finished, whatever their outcome, so one
   * failed cleanup step never holds back the rest of destroy.
   */
  cleanupRank?: number;
  /**
   * Ordering only, for `up`: start once these steps have finished, whatever their outcome (this
   * step reads none of their outputs; ids not in the run are ignored). E.g. the drills run after
   * the load test, never during it.
   */
  runsAfter?: string[];
  /**
   * Ordering only, for `up`: start once every selected step of an earlier phase has finished,
   * whatever its outcome (Phase 5 measures the finished stack, not one still being modified).
   */
  runsAfterEarlierPhases?: boolean;
  /**
   * Ordering only, for `destroy`: tear down once these steps' teardowns have finished, whatever
   * their outcome (ids not in the run are ignored). E.g. the RDS log groups are deleted once
   * the instance that would recreate them is gone.
   */
  teardownAfter?: string[];
  /**
   * The needs that must outlive this step: when its teardown fails they are kept, since what
   * it left still uses them (the trail still logs into its audit bucket). Its other needs are
   * torn down after it whatever its outcome, with a warning. Default: every need, except for a
   * seed cleanup step (`cleanupRank`), which keeps none. A step that only configures a billing
   * resource (backup replication of the RDS instance, SSM parameters naming its endpoint)
   * keeps none either: its failure must never leave the database billing.
   */
  teardownKeeps?: string[];
  /**
   * The criteria this step's verify reports on. When verify throws, each becomes an `unknown`
   * check, so the rubric loses those points instead of scoring only the checks that remain.
   * Defaults to the step's entry in `STEP_CRITERIA` (src/verify/rubric.ts).
   */
  criteria?: Criterion[];
  /** How to find what this step makes without the state (destroy's leftover sweep). */
  discover?: Discovery;
  /** Find-or-create, converge, wait; return outputs. Idempotent. */
  create(ctx: StepContext): Promise<O>;
  /** Read-only checks against the criteria. */
  verify(ctx: StepContext): Promise<Check[]>;
  /** Delete what create made; "already gone" is success. */
  teardown(ctx: StepContext): Promise<void>;
}

export function defineStep<O extends Outputs>(step: Step<O>): Step<O> {
  return step;
}
