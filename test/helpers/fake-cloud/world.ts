import type { Clock } from './clock.js';
import { awsError } from './errors.js';
import type { Timings } from './timings.js';
import type { In, Resource, ServiceName, Transition } from './types.js';
import { Rng } from './util.js';

export interface WorldJSON {
  account: string;
  rng: number;
  resources: Resource[];
  tokens: Record<string, { id: string; hash: string; at: number }>;
  settings: Record<string, Record<string, unknown>>;
  /** Deleted tagged resources the Tagging API still lists (see `World.ghosts`). */
  ghosts?: Ghost[];
}

/** A deleted resource as the Tagging API keeps listing it for a while. */
export interface Ghost {
  type: string;
  region: string;
  arn: string;
  tags: Record<string, string>;
  removedAt: number;
}

/**
 * How long the Resource Groups Tagging API keeps listing a deleted resource: AWS documents no
 * bound ("minutes to hours" in practice), and lists terminated instances' volumes, deleted
 * listeners and the like long after. Simulated time, in every mode.
 */
export const TAGGING_LAG_MS = 60 * 60_000;

/**
 * The store every service module works on: resources keyed by type, region and id, the
 * simulated clock, timings, a seeded id generator, idempotency tokens and per-region account
 * settings (EBS encryption by default).
 */
export class World {
  readonly account: string;
  readonly partition = 'aws';
  clock: Clock;
  timings: Timings;
  rng: Rng;
  private readonly store = new Map<string, Resource>();
  tokens: Record<string, { id: string; hash: string; at: number }> = {};
  /** Deleted tagged resources, for the Tagging API's lag. */
  ghosts: Ghost[] = [];
  settings: Record<string, Record<string, unknown>> = {};
  private readonly events = new Map<string, (r: Resource) => void>();
  private readonly ticks: Array<() => void> = [];

  constructor(account: string, clock: Clock, timings: Timings, seed: number) {
    this.account = account;
    this.clock = clock;
    this.timings = timings;
    this.rng = new Rng(seed);
  }

  now(): number {
    return this.clock.now();
  }

  t(name: keyof Timings): number {
    return this.timings[name];
  }

  // -------------------------------------------------------------------------------------------
  // Resources
  // -------------------------------------------------------------------------------------------

  private key(type: string, region: string, id: string): string {
    return `${type}|${region}|${id}`;
  }

  add(r: {
    service: ServiceName;
    type: string;
    region: string;
    id: string;
    arn?: string;
    name?: string;
    tags?: Record<string, string>;
    state: string;
    data?: In;
    system?: boolean;
    owner?: string;
  }): Resource {
    const resource: Resource = {
      service: r.service,
      type: r.type,
      region: r.region,
      id: r.id,
      ...(r.arn !== undefined ? { arn: r.arn } : {}),
      ...(r.name !== undefined ? { name: r.name } : {}),
      tags: { ...(r.tags ?? {}) },
      state: r.state,
      createdAt: this.now(),
      data: r.data ?? {},
      timeline: [],
      ...(r.system ? { system: true } : {}),
      ...(r.owner !== undefined ? { owner: r.owner } : {}),
    };
    this.store.set(this.key(r.type, r.region, r.id), resource);
    return resource;
  }

  /** The resource, live or visible-but-gone. */
  get(type: string, region: string, id: string): Resource | undefined {
    return this.store.get(this.key(type, region, id));
  }

  /** The resource when it exists and is not gone. */
  live(type: string, region: string, id: string): Resource | undefined {
    const r = this.get(type, region, id);
    return r && !r.gone ? r : undefined;
  }

  /** Every resource of a type (optionally one region), live and gone, in creation order. */
  all(type?: string, region?: string): Resource[] {
    const out: Resource[] = [];
    for (const r of this.store.values()) {
      if ((type === undefined || r.type === type) && (region === undefined || r.region === region))
        out.push(r);
    }
    return out;
  }

  /** Live resources of a type in a region matching a predicate. */
  find(type: string, region: string | undefined, pred: (r: Resource) => boolean = () => true) {
    return this.all(type, region).filter((r) => !r.gone && pred(r));
  }

  byArn(arn: string): Resource | undefined {
    for (const r of this.store.values()) if (r.arn === arn) return r;
    return undefined;
  }

  remove(r: Resource): void {
    this.store.delete(this.key(r.type, r.region, r.id));
    if (r.arn && Object.keys(r.tags).length > 0 && !r.system) {
      this.ghosts.push({
        type: r.type,
        region: r.region,
        arn: r.arn,
        tags: { ...r.tags },
        removedAt: this.now(),
      });
    }
  }

  /** What the Tagging API still lists of the deleted resources of a region. */
  ghostsIn(region: string): Ghost[] {
    const now = this.now();
    this.ghosts = this.ghosts.filter((g) => now - g.removedAt < TAGGING_LAG_MS);
    return this.ghosts.filter((g) => g.region === region && !this.byArn(g.arn));
  }

  /** Schedule a state change `delay` simulated ms from now (0: before the next call). */
  schedule(r: Resource, delay: number, t: Omit<Transition, 'at'>): void {
    r.timeline.push({ ...t, at: this.now() + Math.max(0, delay) });
    r.timeline.sort((a, b) => a.at - b.at);
  }

  /** Drop pending transitions (a delete overtakes a create still in progress). */
  cancel(r: Resource, pred: (t: Transition) => boolean = () => true): void {
    r.timeline = r.timeline.filter((t) => !pred(t));
  }

  onEvent(name: string, fn: (r: Resource) => void): void {
    this.events.set(name, fn);
  }

  onTick(fn: () => void): void {
    this.ticks.push(fn);
  }

  /** Apply every transition that is due, in time order, then the services' continuous checks. */
  advance(): void {
    const now = this.now();
    for (let guard = 0; guard < 10_000; guard++) {
      let next: { r: Resource; t: Transition } | undefined;
      for (const r of this.store.values()) {
        const t = r.timeline[0];
        if (t && t.at <= now && (!next || t.at < next.t.at)) next = { r, t };
      }
      if (!next) break;
      const { r, t } = next;
      r.timeline.shift();
      if (t.state !== undefined) r.state = t.state;
      if (t.patch) Object.assign(r.data, t.patch);
      if (t.gone) r.gone = true;
      if (t.event) this.events.get(t.event)?.(r);
      if (t.remove) this.remove(r);
    }
    for (const tick of this.ticks) tick();
  }

  // -------------------------------------------------------------------------------------------
  // Ids, ARNs, errors
  // -------------------------------------------------------------------------------------------

  /** `vpc-0` + 16 hex, as EC2 spells new ids. */
  ec2Id(prefix: string): string {
    return `${prefix}-0${this.rng.hex(16)}`;
  }

  arn(service: string, region: string, resource: string): string {
    return `arn:${this.partition}:${service}:${region}:${this.account}:${resource}`;
  }

  error(service: ServiceName, name: string, message: string, status = 400): Error {
    return awsError(service, name, message, status);
  }

  /** Per-region account settings (EBS encryption by default and its key). */
  regionSettings(region: string): Record<string, unknown> {
    return (this.settings[region] ??= {});
  }

  /**
   * Idempotency: the first call with a token records what it made; a repeat with the same
   * parameters gets the same resource id, with other parameters `mismatch` is thrown.
   */
  idempotent(
    scope: string,
    token: string | undefined,
    params: unknown,
    mismatch: () => Error,
  ): string | undefined {
    if (!token) return undefined;
    const hit = this.tokens[`${scope}|${token}`];
    if (!hit) return undefined;
    if (hit.hash !== JSON.stringify(params)) throw mismatch();
    return hit.id;
  }

  rememberToken(scope: string, token: string | undefined, params: unknown, id: string): void {
    if (!token) return;
    this.tokens[`${scope}|${token}`] = { id, hash: JSON.stringify(params), at: this.now() };
  }

  // -------------------------------------------------------------------------------------------
  // JSON
  // -------------------------------------------------------------------------------------------

  toJSON(): WorldJSON {
    return {
      account: this.account,
      rng: this.rng.state,
      resources: [...this.store.values()],
      tokens: this.tokens,
      settings: this.settings,
      ghosts: this.ghosts,
    };
  }

  load(json: WorldJSON): void {
    this.store.clear();
    for (const r of json.resources) this.store.set(this.key(r.type, r.region, r.id), r);
    this.tokens = json.tokens ?? {};
    this.settings = json.settings ?? {};
    this.ghosts = json.ghosts ?? [];
    this.rng.state = json.rng;
  }
}
