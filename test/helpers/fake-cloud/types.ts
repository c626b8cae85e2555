/**
 * Shared types of the fake cloud. Resource data is plain JSON (numbers for times, no Maps, no
 * Dates) so a whole cloud round-trips through JSON and survives a killed process.
 */

/** Request inputs and resource data are free-form SDK shapes; the handlers read them loosely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type In = any;

/** The short service names of src/aws/clients.ts. */
export type ServiceName =
  | 'acm'
  | 'autoscaling'
  | 'backup'
  | 'cloudfront'
  | 'cloudtrail'
  | 'cloudwatch'
  | 'logs'
  | 'ec2'
  | 'elasticache'
  | 'elbv2'
  | 'iam'
  | 'kms'
  | 'pricing'
  | 'rds'
  | 'tagging'
  | 'route53'
  | 's3'
  | 'secretsmanager'
  | 'sns'
  | 'ssm'
  | 'sts'
  | 'wafv2';

/** A state change scheduled at a simulated time, applied lazily on the next call. */
export interface Transition {
  /** Simulated epoch ms. */
  at: number;
  state?: string;
  /** Merged into `data`. */
  patch?: Record<string, unknown>;
  /** Still visible but gone (NAT `deleted`, instance `terminated`): not live, not a leftover. */
  gone?: boolean;
  /** Removed from the cloud. */
  remove?: boolean;
  /** A named side effect, run by the owning service (`rds.available`, `asg.launched`…). */
  event?: string;
}

export interface Resource {
  service: ServiceName;
  /** `service:kind`, as the Resource Groups Tagging API and cloudmart's sweep name them. */
  type: string;
  region: string;
  /** Primary identifier: `vpc-0…`, a bucket or role name, a key id, an ARN for ARN-keyed types. */
  id: string;
  arn?: string;
  /** Natural name when the type has one (bucket, role, DB identifier, log group…). */
  name?: string;
  tags: Record<string, string>;
  state: string;
  /** Simulated epoch ms. */
  createdAt: number;
  data: In;
  timeline: Transition[];
  gone?: boolean;
  /** Pre-existing or AWS-owned (managed policies, public parameters, service-linked roles). */
  system?: boolean;
  /** Created by another resource (ASG instances, ENIs, a VPC's default security group). */
  owner?: string;
}

/** One entry of `cloud.resources()`. */
export interface InventoryItem {
  service: ServiceName;
  type: string;
  region: string;
  id: string;
  arn?: string;
  name?: string;
  tags: Record<string, string>;
  state: string;
  /** Exists and is not merely visible-but-deleted. */
  live: boolean;
  system: boolean;
  owner?: string;
}

export interface Leftover extends InventoryItem {
  /** Kept on purpose and billed no more (a KMS key pending deletion). */
  kept: boolean;
}

export interface Duplicate {
  type: string;
  region: string;
  name: string;
  ids: string[];
}

/** One SDK call as the fake saw it (one entry per attempt). */
export interface CallRecord {
  seq: number;
  service: ServiceName;
  region: string;
  /** Without the `Command` suffix: `CreateVpc`. */
  command: string;
  input: unknown;
  /** Anything but Describe/Get/List/Head (and a few read-only verbs). */
  mutating: boolean;
  /** 1 for the first attempt; the fake replays the SDK's retries of transient errors. */
  attempt: number;
  /** Simulated epoch ms. */
  at: number;
  /** Error name when the call failed (injected or raised by the fake). */
  error?: string;
}

/** What a call hook sees: before the fake applies the call, and after (mutation applied and saved). */
export interface CallEvent {
  phase: 'before' | 'after';
  seq: number;
  service: ServiceName;
  region: string;
  command: string;
  input: unknown;
  mutating: boolean;
  attempt: number;
  /** The response, in the `after` phase. */
  output?: unknown;
}

/**
 * A fault injector. Throwing in `before` makes the call fail without any effect (throttling,
 * 5xx, a connection reset before the request reached AWS); throwing in `after` makes the call
 * fail although AWS applied it (a lost response). A hook may also stop the process.
 */
export type CallHook = (event: CallEvent) => void;

/** Handler of one API operation. Synchronous: the whole call is atomic in the fake. */
export type Handler = (ctx: CallContext, input: In) => unknown;

export interface CallContext {
  service: ServiceName;
  region: string;
  command: string;
}

export interface ServiceModule {
  service: ServiceName;
  handlers: Record<string, Handler>;
  /** Side effects named in transitions. */
  events?: Record<string, (r: Resource) => void>;
  /** Runs before every call (after due transitions): continuous behaviour such as ACM validation. */
  tick?: () => void;
}
