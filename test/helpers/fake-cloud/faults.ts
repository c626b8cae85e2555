import { faults } from './errors.js';
import type { CallEvent, CallHook, ServiceName } from './types.js';
import { Rng } from './util.js';

export type FaultKind = 'throttling' | 'server' | 'unavailable' | 'reset' | 'timeout';

export interface RandomFaultOptions {
  /** Share of call attempts that fail, 0..1. */
  share: number;
  /** Seed of the choice (default 1): the same run fails the same calls. */
  seed?: number;
  /** Which faults, picked at random (default: all). */
  kinds?: FaultKind[];
  /** Only calls to these services (default: all). */
  services?: ServiceName[];
  /** Only read calls, only mutating calls, or both (default). */
  calls?: 'read' | 'mutating' | 'all';
}

export interface FaultCounter extends CallHook {
  /** How many faults were thrown, by kind. */
  readonly injected: Record<FaultKind, number>;
  readonly total: () => number;
}

/**
 * A hook that fails a share of call attempts BEFORE they reach the fake AWS (nothing is
 * applied): throttling in each service's own spelling, 500/503s, connection resets, timeouts.
 * A client whose maxAttempts is above 1 retries them as the SDK does.
 */
export function randomFaults(options: RandomFaultOptions): FaultCounter {
  const rng = new Rng(options.seed ?? 1);
  const kinds = options.kinds ?? ['throttling', 'server', 'unavailable', 'reset', 'timeout'];
  const injected: Record<FaultKind, number> = {
    throttling: 0,
    server: 0,
    unavailable: 0,
    reset: 0,
    timeout: 0,
  };
  const hook = ((e: CallEvent) => {
    if (e.phase !== 'before') return;
    if (options.services && !options.services.includes(e.service)) return;
    if (options.calls === 'read' && e.mutating) return;
    if (options.calls === 'mutating' && !e.mutating) return;
    if (rng.next() >= options.share) return;
    const kind = kinds[rng.int(kinds.length)]!;
    injected[kind]++;
    throw kind === 'throttling'
      ? faults.throttling(e.service)
      : kind === 'server'
        ? faults.serverError(e.service, 500)
        : kind === 'unavailable'
          ? faults.serverError(e.service, 503)
          : kind === 'reset'
            ? faults.connectionReset()
            : faults.timeout();
  }) as FaultCounter;
  Object.defineProperty(hook, 'injected', { value: injected });
  Object.defineProperty(hook, 'total', {
    value: () => Object.values(injected).reduce((a, b) => a + b, 0),
  });
  return hook;
}

/**
 * A hook that runs `action` right AFTER the n-th (1-based) successful mutating call: the
 * change is applied in the cloud (and saved, when the cloud mirrors into a file) but the
 * caller has not seen the answer yet. `action` may throw (a lost response), abort the run, or
 * kill the process (`process.kill(process.pid, 'SIGKILL')`).
 */
export function afterMutatingCall(n: number, action: (e: CallEvent) => void): CallHook {
  let seen = 0;
  let fired = false;
  return (e) => {
    if (fired || e.phase !== 'after' || !e.mutating) return;
    seen++;
    if (seen === n) {
      fired = true;
      action(e);
    }
  };
}
