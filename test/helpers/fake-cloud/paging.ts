import { onePage } from '../aws-models/check.js';
import { paginators } from '../aws-models/models.js';
import type { In, ServiceName } from './types.js';

/**
 * Pages like AWS. AWS may answer a list with fewer items than asked for and a token for the
 * next page (EC2 even an empty first page when filtering), so a reader that takes the first
 * page for the whole list misses resources. The fake cloud pages every list whose operation
 * has a paginator in AWS's model (`paginators-1.json`) with a small page size in tests (see
 * FakeCloudOptions.pageSize): the handlers that page themselves (`page()` in util.ts) use it
 * as their largest page, the others are sliced here. A request that names the resources it
 * wants (ids, names) is answered in one page, as AWS does.
 */

let current: { size: number; used: boolean } | undefined;

/** The page size of the call being answered, for util.ts `page()`; marks the call as paged. */
export function currentPageSize(): number | undefined {
  if (!current) return undefined;
  current.used = true;
  return current.size;
}

export function get(obj: unknown, path: string): unknown {
  let cursor = obj;
  for (const part of path.split('.')) {
    if (cursor === null || typeof cursor !== 'object') return undefined;
    cursor = (cursor as Record<string, unknown>)[part];
  }
  return cursor;
}

export function set(obj: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let cursor = obj;
  for (const part of parts.slice(0, -1)) {
    const next = cursor[part];
    if (next === null || typeof next !== 'object') return;
    cursor = next as Record<string, unknown>;
  }
  const last = parts[parts.length - 1]!;
  if (value === undefined) delete cursor[last];
  else cursor[last] = value;
}

const decode = (token: unknown): number =>
  typeof token === 'string' ? Number(Buffer.from(token, 'base64url').toString('utf8')) || 0 : 0;
const encode = (offset: number): string =>
  Buffer.from(String(offset), 'utf8').toString('base64url');

/** Run `handler` for one call, paging its answer as AWS would. */
export function withPaging(
  service: ServiceName,
  command: string,
  input: In,
  size: number,
  handler: () => Record<string, unknown>,
): Record<string, unknown> {
  const pager = Number.isFinite(size) ? paginators(service)[command] : undefined;
  if (!pager || onePage(service, command, input)) return handler();
  const call = { size, used: false };
  current = call;
  let out: Record<string, unknown>;
  try {
    out = handler();
  } finally {
    current = undefined;
  }
  if (call.used) return out; // the handler paged itself with this size
  const { input_token: inToken, output_token: outToken, result_key: resultKey } = pager;
  if (typeof inToken !== 'string' || typeof outToken !== 'string' || typeof resultKey !== 'string')
    return out;
  const items = get(out, resultKey);
  if (!Array.isArray(items)) return out;
  const limit = pager.limit_key ? Number(input[pager.limit_key]) : NaN;
  const n = Math.max(1, Math.min(size, Number.isFinite(limit) && limit > 0 ? limit : size));
  const start = decode(input[inToken]);
  const slice = items.slice(start, start + n);
  const end = start + slice.length;
  set(out, resultKey, slice);
  // CloudFront's lists say how many items the page holds.
  const quantity = resultKey.replace(/Items$/, 'Quantity');
  if (quantity !== resultKey && get(out, quantity) !== undefined) set(out, quantity, slice.length);
  set(out, outToken, end < items.length ? encode(end) : undefined);
  if (pager.more_results) set(out, pager.more_results, end < items.length);
  return out;
}

/**
 * Every page of a list, merged into one answer (for tests that read the cloud through its
 * API): follows the operation's output token(s) from paginators-1.json as a paginator would.
 */
export async function allPagesOf(
  service: ServiceName,
  command: string,
  input: In,
  call: (input: In) => Promise<unknown>,
): Promise<Record<string, unknown>> {
  const out = (await call(input)) as Record<string, unknown>;
  const pager = paginators(service)[command];
  if (!pager) return out;
  const inTokens = [pager.input_token].flat();
  const outTokens = [pager.output_token].flat();
  const keys = [pager.result_key ?? []].flat();
  let page = out;
  for (;;) {
    const more = pager.more_results ? get(page, pager.more_results) === true : true;
    const tokens = outTokens.map((t) => get(page, t));
    if (!more || tokens[0] === undefined || tokens[0] === '') break;
    const next: In = { ...input };
    inTokens.forEach((t, i) => (next[t] = tokens[i]));
    page = (await call(next)) as Record<string, unknown>;
    for (const k of keys) {
      const have = get(out, k);
      const add = get(page, k);
      if (Array.isArray(have) && Array.isArray(add)) have.push(...(add as unknown[]));
      else if (have === undefined && add !== undefined) set(out, k, add);
    }
  }
  for (const t of outTokens) set(out, t, undefined);
  if (pager.more_results) set(out, pager.more_results, false);
  return out;
}
