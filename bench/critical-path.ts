/**
 * Graph arithmetic for the benchmark: the critical path (longest chain of measured step
 * durations through the dependency graph) and the one-at-a-time total.
 */
import type { GraphNode } from '../src/engine/scheduler.js';

export interface StepTiming {
  id: string;
  /** Real ms (performance.now()) when the engine started the step. */
  start: number;
  /** Real ms when it finished (done or failed). */
  end: number;
}

export interface PathResult {
  /** Sum of the durations along the longest chain (ms). */
  length: number;
  /** The chain, first step first. */
  path: string[];
}

/**
 * Longest path through `nodes` (edges `after` → node; edges to ids outside the graph are
 * ignored) weighted by `durations` (ms; a node without a duration weighs 0). This is the
 * shortest wall time any scheduler could reach with unlimited concurrency and no overhead.
 */
export function criticalPath(nodes: GraphNode[], durations: Map<string, number>): PathResult {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const finish = new Map<string, { at: number; via: string | undefined }>();
  const visiting = new Set<string>();
  const visit = (id: string): number => {
    const known = finish.get(id);
    if (known) return known.at;
    if (visiting.has(id)) throw new Error(`dependency cycle through ${id}`);
    visiting.add(id);
    let best = 0;
    let via: string | undefined;
    for (const dep of byId.get(id)!.after) {
      if (!byId.has(dep) || dep === id) continue;
      const at = visit(dep);
      if (at > best) {
        best = at;
        via = dep;
      }
    }
    visiting.delete(id);
    const at = best + (durations.get(id) ?? 0);
    finish.set(id, { at, via });
    return at;
  };
  let end: string | undefined;
  let length = 0;
  for (const n of nodes) {
    const at = visit(n.id);
    if (end === undefined || at > length) {
      length = at;
      end = n.id;
    }
  }
  const path: string[] = [];
  for (let id = end; id !== undefined; id = finish.get(id)!.via) path.unshift(id);
  return { length, path };
}

/** The time the same steps would take one after another (ms). */
export function sequentialTotal(durations: Map<string, number>): number {
  let sum = 0;
  for (const d of durations.values()) sum += d;
  return sum;
}

/** Durations of the steps that finished, from start/end timings. */
export function durationsOf(timings: StepTiming[]): Map<string, number> {
  return new Map(timings.map((t) => [t.id, Math.max(0, t.end - t.start)]));
}

/** Median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const round = (n: number, digits = 3): number => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};
