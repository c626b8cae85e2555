/**
 * A test-only evaluator of the CloudWatch Logs JSON filter patterns cloudmart writes:
 * `{ $.a = "x" }`, `{ ($.a = "/api/*") && ($.b >= 500) }`, with `=`, `!=` on quoted strings (a
 * trailing `*` is a prefix wildcard, `"*"` any value) and `=`, `!=`, `<`, `<=`, `>`, `>=` on
 * numbers. Anything else throws, so a pattern it does not understand cannot pass a test.
 * Syntax: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html
 */
export function matchesFilterPattern(pattern: string, message: string): boolean {
  const m = /^\{\s*(.*?)\s*\}$/.exec(pattern.trim());
  if (!m) throw new Error(`not a JSON filter pattern: ${pattern}`);
  let event: Record<string, unknown>;
  try {
    event = JSON.parse(message) as Record<string, unknown>;
  } catch {
    return false; // a JSON pattern never matches a line that is not JSON
  }
  if (m[1]!.includes('||')) throw new Error(`|| is not supported here: ${pattern}`);
  return m[1]!.split('&&').every((part) =>
    condition(
      part
        .trim()
        .replace(/^\((.*)\)$/, '$1')
        .trim(),
      event,
      pattern,
    ),
  );
}

function condition(text: string, event: Record<string, unknown>, pattern: string): boolean {
  const c = /^\$\.([A-Za-z_][\w]*)\s*(=|!=|>=|<=|>|<)\s*(.+)$/.exec(text);
  if (!c) throw new Error(`unsupported condition "${text}" in ${pattern}`);
  const [, field, op, raw] = c as unknown as [string, string, string, string];
  const value = event[field];
  if (raw.startsWith('"')) {
    if (op !== '=' && op !== '!=') throw new Error(`${op} on a string in ${pattern}`);
    const want = JSON.parse(raw) as string;
    if (typeof value !== 'string') return op === '!=' && value !== undefined;
    const hit = want.endsWith('*') ? value.startsWith(want.slice(0, -1)) : value === want;
    return op === '=' ? hit : !hit;
  }
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`unsupported value ${raw} in ${pattern}`);
  if (typeof value !== 'number') return false;
  switch (op) {
    case '=':
      return value === n;
    case '!=':
      return value !== n;
    case '>':
      return value > n;
    case '>=':
      return value >= n;
    case '<':
      return value < n;
    default:
      return value <= n;
  }
}
