/**
 * IAM, KMS, S3 and SNS policy documents: decode what AWS returns, compare them as AWS means
 * them, and find statements that grant too much. Shared by every step that writes a policy.
 */
export type OneOrMany = string | string[];

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: '*' | Record<string, OneOrMany>;
  NotPrincipal?: Record<string, OneOrMany>;
  Action?: OneOrMany;
  NotAction?: OneOrMany;
  Resource?: OneOrMany;
  NotResource?: OneOrMany;
  Condition?: Record<string, Record<string, OneOrMany | boolean>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Id?: string;
  Statement: PolicyStatement[];
}

export function asList(x: OneOrMany | undefined): string[] {
  if (x === undefined) return [];
  return Array.isArray(x) ? x : [x];
}

/**
 * IAM returns documents URL-encoded (RFC 3986); KMS and most emulators return plain JSON.
 * Undefined when the text is not a policy document.
 */
export function decodePolicy(text: string | undefined): PolicyDocument | undefined {
  if (!text) return undefined;
  try {
    const json = text.trimStart().startsWith('{') ? text : decodeURIComponent(text);
    const doc = JSON.parse(json) as unknown;
    if (typeof doc !== 'object' || doc === null) return undefined;
    const statement = (doc as { Statement?: unknown }).Statement;
    return {
      ...(doc as PolicyDocument),
      // A single statement may be written as an object rather than a list.
      Statement: (Array.isArray(statement)
        ? statement
        : statement
          ? [statement]
          : []) as PolicyStatement[],
    };
  } catch {
    return undefined;
  }
}

/** JSON with object keys sorted, so two documents that differ only in key order compare equal. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * A canonical form for comparing policies as AWS means them: key order, array order, a
 * one-element array versus its element, and `false` versus `"false"` do not matter (AWS hands
 * documents back in any of those forms).
 */
export function canonicalPolicy(v: unknown): unknown {
  if (Array.isArray(v)) {
    const items = v
      .map(canonicalPolicy)
      .sort((a, b) => (canonicalJson(a) < canonicalJson(b) ? -1 : 1));
    return items.length === 1 ? items[0] : items;
  }
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map((k) => [k, canonicalPolicy((v as Record<string, unknown>)[k])]),
    );
  }
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  return v;
}

/** Two policies (or parts of one) that mean the same. */
export function samePolicyValue(a: unknown, b: unknown): boolean {
  return canonicalJson(canonicalPolicy(a)) === canonicalJson(canonicalPolicy(b));
}

export function samePolicy(a: PolicyDocument | undefined, b: PolicyDocument | undefined): boolean {
  if (!a || !b) return false;
  return samePolicyValue(a, b);
}

/** Allow statements whose principal is everyone (`*` or `{ AWS: '*' }`). */
export function wildcardPrincipals(doc: PolicyDocument): PolicyStatement[] {
  return doc.Statement.filter((s) => {
    if (s.Effect !== 'Allow') return false;
    if (s.NotPrincipal) return true;
    if (s.Principal === '*') return true;
    if (s.Principal && typeof s.Principal === 'object') {
      return Object.values(s.Principal).some((v) => asList(v).includes('*'));
    }
    return false;
  });
}

/**
 * Allow statements that grant `*` or `service:*` (or use NotAction) on `*` (or NotResource):
 * what the seed's IAM criterion calls admin or wildcard access.
 */
export function broadGrants(doc: PolicyDocument): PolicyStatement[] {
  return doc.Statement.filter((s) => {
    if (s.Effect !== 'Allow') return false;
    const wildAction =
      s.NotAction !== undefined || asList(s.Action).some((a) => a === '*' || /^[\w-]+:\*$/.test(a));
    const wildResource = s.NotResource !== undefined || asList(s.Resource).includes('*');
    return wildAction && wildResource;
  });
}

/** "Sid Admin: * on *" for evidence lines. */
export function describeStatement(s: PolicyStatement): string {
  const actions = s.NotAction
    ? `everything but ${asList(s.NotAction).join(',')}`
    : asList(s.Action).join(',');
  const resources = s.NotResource
    ? `everything but ${asList(s.NotResource).join(',')}`
    : asList(s.Resource).join(',');
  return `${s.Sid ? `Sid ${s.Sid}: ` : ''}${actions} on ${resources}`;
}
