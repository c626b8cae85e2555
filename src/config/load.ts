import { readFile } from 'node:fs/promises';
import { isMap, isNode, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { allValid, configWarnings, crossFieldIssues, validExcept, type Valid } from './rules.js';
import { withStackNames } from './names.js';
import { defaultZonesOf, regionInfo } from './regions.js';
import { configSchema, type Config } from './schema.js';

export const DEFAULT_CONFIG_FILE = 'cloudmart.config.yaml';
const MAX_CONFIG_BYTES = 1024 * 1024;

export interface ConfigOverrides {
  /** `--region`: beats the file's region. */
  region?: string | undefined;
  /** AWS_REGION: used only when the file names no region. */
  fallbackRegion?: string | undefined;
  /**
   * Told about settings that work but may hit an adjustable AWS quota (path, message, line).
   * Called before a ConfigError is thrown too, so one run shows everything.
   */
  onWarning?: ((warning: ConfigIssue) => void) | undefined;
}

/** Read, parse and validate a config file. Throws ConfigError (exit 2) listing every problem. */
export async function loadConfig(
  file: string = DEFAULT_CONFIG_FILE,
  overrides: ConfigOverrides = {},
): Promise<Config> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const message =
      code === 'ENOENT'
        ? `file not found; run "cloudmart init" to create one`
        : `cannot read the file: ${(e as Error).message}`;
    throw new ConfigError([{ path: '', message }], file);
  }
  return parseConfig(raw, file, overrides);
}

/** Validate config text (or bytes). Exposed for tests and `init`. */
export function parseConfig(
  input: string | Buffer,
  file?: string,
  overrides: ConfigOverrides = {},
): Config {
  if (input.length > MAX_CONFIG_BYTES) {
    throw new ConfigError(
      [{ path: '', message: `file is larger than ${MAX_CONFIG_BYTES} bytes` }],
      file,
    );
  }
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch {
      throw new ConfigError([{ path: '', message: 'file is not valid UTF-8 text' }], file);
    }
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((err) => ({
        path: '',
        message: `YAML syntax error: ${(err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`,
        line: err.linePos?.[0].line,
      })),
      file,
    );
  }
  let data: unknown;
  try {
    // toJS expands aliases; the yaml package refuses alias bombs ("Excessive alias count").
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (e) {
    throw new ConfigError(
      [{ path: '', message: `YAML cannot be read: ${(e as Error).message}` }],
      file,
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ConfigError(
      [{ path: '', message: 'the config must be a mapping of settings', line: 1 }],
      file,
    );
  }

  applyRegion(data as Record<string, unknown>, overrides);
  const lineOf = (path: PropertyKey[]) => lineForPath(doc, lineCounter, path);
  return validate(data, lineOf, file, overrides.onWarning);
}

/**
 * Schema, then the cross-field rules and warnings, all reported at once. When the schema fails,
 * the rules still run on the parts that passed it (see salvage).
 */
function validate(
  data: unknown,
  lineOf: (path: PropertyKey[]) => number | undefined,
  file: string | undefined,
  onWarning: ((warning: ConfigIssue) => void) | undefined,
): Config {
  if (typeof data === 'object' && data !== null && !Array.isArray(data))
    data = withStackNames(data as Record<string, unknown>);
  const parsed = configSchema.safeParse(data);
  let config: Config;
  let valid: Valid = allValid;
  const issues: ConfigIssue[] = [];
  if (parsed.success) {
    config = parsed.data;
  } else {
    issues.push(...zodIssues(parsed.error, lineOf, data));
    const invalid: string[] = [];
    config = salvage(configSchema, data, [], invalid) as Config;
    valid = validExcept(invalid);
  }
  const withLine = (i: ConfigIssue): ConfigIssue => ({
    ...i,
    line: i.line ?? lineOf(i.path === '' ? [] : i.path.split('.')),
  });
  issues.push(...crossFieldIssues(config, valid).map(withLine));
  if (onWarning) for (const w of configWarnings(config, valid)) onWarning(withLine(w));
  if (issues.length > 0) throw new ConfigError(issues, file);
  return config;
}

const INVALID = Symbol('invalid');

/**
 * The config with every value that passes its own schema, defaults filled in, and the paths
 * of the values that do not (they are left out). An object that fails as a whole (an unknown
 * key, one bad field) is taken apart field by field, so one bad CIDR does not hide the rest
 * of the network section from the cross-field rules. Lists and scalars pass or fail whole.
 */
function salvage(schema: z.ZodType, value: unknown, path: string[], invalid: string[]): unknown {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const shape = (unwrap(schema) as unknown as { shape?: Record<string, z.ZodType> }).shape;
  if (shape && typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, sub] of Object.entries(shape)) {
      const v = salvage(sub, (value as Record<string, unknown>)[key], [...path, key], invalid);
      if (v !== INVALID) out[key] = v;
    }
    return out;
  }
  invalid.push(path.join('.'));
  return INVALID;
}

/**
 * The region comes from --region, else the file, else AWS_REGION, else the seed's. When the
 * file names no AZs, they follow the region: the region table's two zones (src/config/regions.ts),
 * else its "a" and "c" zones, as the seed uses; the DR region likewise follows the table.
 */
function applyRegion(data: Record<string, unknown>, overrides: ConfigOverrides): void {
  const region =
    overrides.region ?? (typeof data.region === 'string' ? data.region : overrides.fallbackRegion);
  if (region === undefined) return;
  if (
    overrides.region === undefined &&
    overrides.fallbackRegion !== undefined &&
    overrides.fallbackRegion !== region
  )
    overrides.onWarning?.({
      path: 'region',
      message: `${region} is used, not AWS_REGION's ${overrides.fallbackRegion}: the file's region wins over AWS_REGION (pass --region ${overrides.fallbackRegion}, or delete the region line, to use it)`,
    });
  data.region = region;
  if (data.availabilityZones === undefined) {
    data.availabilityZones = defaultZonesOf(region) ?? [`${region}a`, `${region}c`];
    const info = regionInfo(region);
    if (info && info.defaultZones === null)
      overrides.onWarning?.({
        path: 'availabilityZones',
        message: `not set, so ${region}a and ${region}c are used; in ${region} each account sees its own zones (${info.zones.map((z) => region + z).join(', ')}): check with "aws ec2 describe-availability-zones --region ${region}" and set availabilityZones`,
      });
  }
  // The DR copy follows the region too (the table's pair); else the schema's default.
  const dr = regionInfo(region)?.dr;
  if (data.drRegion === undefined && dr !== undefined) data.drRegion = dr;
}

/** Validate a config object that did not come from a file (tests, `init`). */
export function configFromObject(
  data: unknown,
  onWarning?: (warning: ConfigIssue) => void,
): Config {
  return validate(data, () => undefined, undefined, onWarning);
}

function zodIssues(
  error: z.ZodError,
  lineOf: (path: PropertyKey[]) => number | undefined,
  data: unknown,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...issue.path, key];
        const known = knownKeysAt(issue.path);
        const suggestion = closest(key, known);
        issues.push({
          path: path.map(String).join('.'),
          message: `unknown setting${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
          line: lineOf(path),
        });
      }
      continue;
    }
    let message = issue.message;
    if (issue.code === 'invalid_type' && valueAt(data, issue.path) === undefined) {
      message = 'is required';
    }
    // A bad key of a record (tags): zod says only "Invalid key in record"; say what is wrong.
    if (issue.code === 'invalid_key') {
      message = issue.issues.map((i) => i.message).join('; ');
    }
    issues.push({ path: issue.path.map(String).join('.'), message, line: lineOf(issue.path) });
  }
  return issues;
}

function valueAt(data: unknown, path: PropertyKey[]): unknown {
  let v = data;
  for (const p of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** The line of the deepest node on `path` that exists in the document. */
function lineForPath(doc: Document, lc: LineCounter, path: PropertyKey[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const sub = path
      .slice(0, n)
      .map((p) => (typeof p === 'string' && /^\d+$/.test(p) ? Number(p) : p));
    const node: unknown = n === 0 ? doc.contents : doc.getIn(sub, true);
    // Prefer the key's position for a mapping entry, so "unknown key" points at the key.
    if (n > 0) {
      const parent: unknown = n === 1 ? doc.contents : doc.getIn(sub.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find(
          (it) => isPair(it) && isScalar(it.key) && it.key.value === sub[n - 1],
        );
        if (pair && isNode(pair.key) && pair.key.range) return lc.linePos(pair.key.range[0]).line;
      }
    }
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

function knownKeysAt(path: PropertyKey[]): string[] {
  let schema: z.ZodType = configSchema;
  for (const p of path) {
    const inner = unwrap(schema);
    const shape = (inner as unknown as { shape?: Record<string, z.ZodType> }).shape;
    if (shape && typeof p === 'string' && shape[p]) schema = shape[p];
    else return [];
  }
  const shape = (unwrap(schema) as unknown as { shape?: Record<string, z.ZodType> }).shape;
  return shape ? Object.keys(shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema as unknown as { unwrap?: () => z.ZodType; def?: { innerType?: z.ZodType } };
  for (let i = 0; i < 10; i++) {
    const inner = s.def?.innerType;
    if (!inner) break;
    s = inner as unknown as typeof s;
  }
  return s as unknown as z.ZodType;
}

/** The candidate nearest to `word` (for "did you mean"), if one is near enough. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = levenshtein(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3))
    ? best
    : undefined;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
