import { createHash } from 'node:crypto';
import type { In } from './types.js';
import { currentPageSize } from './paging.js';

/** mulberry32: a small seeded PRNG whose state is one number (saved with the cloud). */
export class Rng {
  constructor(public state: number) {}
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  chars(n: number, alphabet: string): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
  hex(n: number): string {
    return this.chars(n, '0123456789abcdef');
  }
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

export const HEX = '0123456789abcdef';
export const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
export const LOWER = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

export function md5(body: string | Uint8Array): string {
  return createHash('md5').update(body).digest('hex');
}

export function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `[{Key, Value}]` → map. */
export function tagMap(
  list: Array<{ Key?: string; Value?: string }> | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of list ?? []) if (t.Key !== undefined) out[t.Key] = t.Value ?? '';
  return out;
}

/** map → `[{Key, Value}]`. */
export function tagList(map: Record<string, string>): Array<{ Key: string; Value: string }> {
  return Object.entries(map).map(([Key, Value]) => ({ Key, Value }));
}

/** EC2 TagSpecifications → the tags for one resource type. */
export function tagsFromSpecs(specs: In, resourceType: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of (specs ?? []) as Array<{ ResourceType?: string; Tags?: In }>) {
    if (s.ResourceType === resourceType) Object.assign(out, tagMap(s.Tags));
  }
  return out;
}

/** Glob as EC2 filters take it: `*` any run, `?` one character. */
export function globMatch(pattern: string, value: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === value;
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(value);
}

/** A page of `items` from an opaque token (the offset, base64). */
export function page<T>(
  items: T[],
  token: string | undefined,
  size: number | undefined,
  max = 1000,
): { items: T[]; next: string | undefined } {
  const start = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) || 0 : 0;
  // The fake cloud's page size in tests (paging.ts) bounds every page, as AWS may.
  const n = Math.max(1, Math.min(size ?? max, max, currentPageSize() ?? max));
  const slice = items.slice(start, start + n);
  const end = start + slice.length;
  return {
    items: slice,
    next: end < items.length ? Buffer.from(String(end), 'utf8').toString('base64url') : undefined,
  };
}

/** `service:kind` of an ARN, exactly as src/engine/sweep.ts names it. */
export function arnType(arn: string): string {
  const [, , service = '', , , ...rest] = arn.split(':');
  const resource = rest.join(':');
  const plain: Record<string, string> = { s3: 'bucket', sns: 'topic' };
  const kind = /[/:]/.test(resource)
    ? (resource.split(/[/:]/)[0] ?? '')
    : (plain[service] ?? resource);
  return `${service}:${kind}`;
}

/** IPv4 CIDR helpers for subnet checks and address allocation. */
export function parseCidr(cidr: string): { base: number; bits: number } | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  const bits = Number(m[5]);
  if (bits > 32) return undefined;
  const ip = ((octets[0]! << 24) >>> 0) + (octets[1]! << 16) + (octets[2]! << 8) + octets[3]!;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { base: (ip & mask) >>> 0, bits };
}

export function cidrContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  if (!o || !i || i.bits < o.bits) return false;
  const mask = o.bits === 0 ? 0 : (0xffffffff << (32 - o.bits)) >>> 0;
  return (i.base & mask) >>> 0 === o.base;
}

export function cidrOverlap(a: string, b: string): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

export function ipAt(cidr: string, offset: number): string {
  const c = parseCidr(cidr)!;
  const ip = (c.base + offset) >>> 0;
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
}

/** Route 53 / DNS name ordering: labels compared from the right. */
export function dnsOrderKey(name: string): string {
  return name.toLowerCase().replace(/\.$/, '').split('.').reverse().join('.');
}

export function fqdn(name: string): string {
  return `${name.toLowerCase().replace(/\.$/, '')}.`;
}

/** A policy document: decoded JSON or undefined when the text is not JSON. */
export function parsePolicy(text: unknown): In {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text.trimStart().startsWith('{') ? text : decodeURIComponent(text));
  } catch {
    return undefined;
  }
}

export function asArray<T>(v: T | T[] | undefined): T[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** Statements of a policy document (one statement may be an object). */
export function statements(doc: In): In[] {
  if (!doc || typeof doc !== 'object') return [];
  return asArray(doc.Statement);
}
