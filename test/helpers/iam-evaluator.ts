/**
 * A small IAM policy evaluator, limited to what cloudmart's operator policy uses: Allow and
 * Deny statements, Action and Resource with the `*` and `?` wildcards, and the condition
 * operators StringEquals, StringLike, ArnEquals, ArnLike, their Not forms, Bool and Null. Identity policies, and
 * a permissions boundary on top of them (evaluateBounded); no resource policies or SCPs. Semantics from the IAM User Guide's "Policy
 * evaluation logic" and "IAM JSON policy elements: Condition operators": an explicit Deny wins,
 * else an Allow whose every element matches, else the implicit deny. A condition key missing
 * from the request fails every operator but Null; a key with several values matches when any
 * value does (the ForAnyValue reading, which is how single-valued operators treat a list).
 * No well-kept evaluator exists on npm under a licence the project can take (the one complete
 * simulator, @cloud-copilot/iam-simulate, is AGPL), hence this.
 */
export type ContextValue = string | string[] | boolean;

export interface AuthRequest {
  /** `service:Action`. */
  action: string;
  /** The resource ARN, or "*" for an action with no resource type. */
  resource: string;
  /** Condition keys of the request: aws:RequestTag/…, aws:ResourceTag/…, iam:PassedToService… */
  context: Record<string, ContextValue>;
}

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, ContextValue>>;
}

export type Decision = 'allow' | 'deny' | 'implicit-deny';

const list = (x: string | string[] | undefined): string[] =>
  x === undefined ? [] : Array.isArray(x) ? x : [x];

/** IAM's wildcard match: `*` any run of characters (none included), `?` exactly one. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const re = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${re}$`, ignoreCase ? 'is' : 's').test(value);
}

function values(v: ContextValue | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return [String(v)];
  return Array.isArray(v) ? v : [v];
}

/** The request's value of a condition key (key names are case-insensitive). */
function lookup(context: AuthRequest['context'], key: string): string[] | undefined {
  const k = Object.keys(context).find((c) => c.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : values(context[k]);
}

function conditionHolds(
  operator: string,
  key: string,
  want: ContextValue,
  req: AuthRequest,
): boolean {
  const have = lookup(req.context, key);
  const wanted = values(want)!;
  if (operator === 'Null') {
    // Null: true means "the key is absent".
    return wanted.some((w) => (w === 'true') === (have === undefined));
  }
  // A key absent from the request fails every operator but the negated ones, which it passes
  // ("IAM JSON policy elements: Condition operators", the Important note,
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
  const negated = /^(String|Arn)Not(Equals|Like)$/.exec(operator);
  if (negated) {
    if (have === undefined) return true;
    return !conditionHolds(`${negated[1]}${negated[2]}`, key, want, req);
  }
  if (have === undefined) return false;
  const any = (test: (h: string, w: string) => boolean) =>
    have.some((h) => wanted.some((w) => test(h, w)));
  switch (operator) {
    case 'StringEquals':
    case 'ArnEquals':
      return any((h, w) => h === w);
    case 'StringLike':
    case 'ArnLike':
      return any((h, w) => wildcardMatch(w, h));
    case 'Bool':
      return any((h, w) => h.toLowerCase() === w.toLowerCase());
    default:
      throw new Error(`iam-evaluator: condition operator ${operator} is not supported`);
  }
}

export function statementMatches(s: Statement, req: AuthRequest): boolean {
  const actionOk = s.NotAction
    ? !list(s.NotAction).some((a) => wildcardMatch(a, req.action, true))
    : list(s.Action).some((a) => wildcardMatch(a, req.action, true));
  if (!actionOk) return false;
  const onResource = (r: string) => r === '*' || wildcardMatch(r, req.resource);
  const resourceOk = s.NotResource
    ? !list(s.NotResource).some(onResource)
    : list(s.Resource).some(onResource);
  if (!resourceOk) return false;
  return Object.entries(s.Condition ?? {}).every(([op, keys]) =>
    Object.entries(keys).every(([key, want]) => conditionHolds(op, key, want, req)),
  );
}

/** The decision of identity policies on one request. */
export function evaluate(statements: readonly Statement[], req: AuthRequest): Decision {
  if (statements.some((s) => s.Effect === 'Deny' && statementMatches(s, req))) return 'deny';
  if (statements.some((s) => s.Effect === 'Allow' && statementMatches(s, req))) return 'allow';
  return 'implicit-deny';
}

/**
 * A principal with a permissions boundary: a request is allowed only when its identity policies
 * allow it and the boundary allows it too; an explicit Deny in either denies ("Permissions
 * boundaries for IAM entities", Evaluating effective permissions with boundaries,
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html).
 */
export function evaluateBounded(
  identity: readonly Statement[],
  boundary: readonly Statement[],
  req: AuthRequest,
): Decision {
  const a = evaluate(identity, req);
  const b = evaluate(boundary, req);
  if (a === 'deny' || b === 'deny') return 'deny';
  return a === 'allow' && b === 'allow' ? 'allow' : 'implicit-deny';
}
