import type { LoadOptions, LoadResult } from '../../src/load/load-test.js';

/** A healthy load-test result: 1,000 requests, all 200, average 112 ms, P95 240 ms. */
export function loadResult(overrides: Partial<LoadResult> = {}): LoadResult {
  const requests = overrides.requests ?? 1000;
  return {
    url: 'http://x/api/products',
    requests,
    responses: requests,
    ok: requests,
    errors: 0,
    timeouts: 0,
    non2xx: 0,
    statusCodes: { '200': requests },
    errorCodes: {},
    rps: 850,
    average: 112,
    p50: 98,
    p90: 180,
    p95: 240,
    p99: 410,
    min: 12,
    max: 620,
    quantiles: [],
    durationSeconds: 1.2,
    concurrency: 100,
    mode: 'requests',
    keepAlive: false,
    timeoutSeconds: 10,
    histogram: [],
    timeline: [],
    at: new Date(0).toISOString(),
    aborted: false,
    timedOut: false,
    bailedOut: null,
    ...overrides,
  };
}

/** A load runner that answers `loadResult` for the options it is given (no network). */
export const fakeLoad = (options: LoadOptions): Promise<LoadResult> =>
  Promise.resolve(
    loadResult({
      url: options.url,
      requests: options.requests ?? 1000,
      concurrency: options.concurrency ?? 100,
    }),
  );
