/**
 * A dependency-driven scheduler: a node starts as soon as every node it is ordered after has
 * finished and those it requires have succeeded, up to `concurrency` at a time; there is no
 * barrier per phase or per level. A node whose required node failed or was skipped is skipped;
 * every other branch goes on. An edge that is ordering only ("start after it has finished,
 * whatever its outcome") never skips anything. After an abort no new node starts; running
 * nodes are awaited (they see the abort signal themselves).
 */
export interface GraphNode {
  id: string;
  /** Ids of nodes that must have finished first (ids outside the graph are ignored). */
  after: string[];
  /**
   * Ids of nodes that must have succeeded first: when one fails or is skipped, this node is
   * skipped. Default: every node of `after`. Those of `after` not listed here are ordering
   * only. (Ids listed here but not in `after` are waited for as well.)
   */
  requires?: string[];
}

export type NodeOutcome = 'succeeded' | 'failed' | 'skipped';

export interface ScheduleResult {
  outcomes: Map<string, NodeOutcome>;
  /** Why a node was skipped. */
  reasons: Map<string, string>;
}

export interface ScheduleOptions {
  concurrency: number;
  signal: AbortSignal;
  /** Runs one node; rejects to fail it. */
  run(id: string): Promise<void>;
  /** Called when a node is skipped because a node it waits for failed or was skipped. */
  onSkip?(id: string, reason: string): void;
  /** Called before a node starts; resolving false skips it (and so its dependents). */
  gate?(id: string): Promise<boolean>;
}

export async function schedule(
  nodes: GraphNode[],
  options: ScheduleOptions,
): Promise<ScheduleResult> {
  const ids = new Set(nodes.map((n) => n.id));
  const inGraph = (id: string, list: readonly string[]) =>
    [...new Set(list)].filter((a) => ids.has(a) && a !== id);
  // Every node that must have finished first, and of those the ones that must have succeeded.
  const waitsFor = new Map(
    nodes.map((n) => [n.id, inGraph(n.id, [...n.after, ...(n.requires ?? [])])]),
  );
  const requires = new Map(nodes.map((n) => [n.id, inGraph(n.id, n.requires ?? n.after)]));
  assertAcyclic(nodes, waitsFor);

  const outcomes = new Map<string, NodeOutcome>();
  const reasons = new Map<string, string>();
  const running = new Map<string, Promise<void>>();
  const pending = new Set(nodes.map((n) => n.id));
  const order = nodes.map((n) => n.id);
  let wake: (() => void) | undefined;
  const concurrency = Math.max(1, options.concurrency);

  const skip = (id: string, reason: string) => {
    pending.delete(id);
    outcomes.set(id, 'skipped');
    reasons.set(id, reason);
    options.onSkip?.(id, reason);
  };

  const start = (id: string) => {
    pending.delete(id);
    const task = (async () => {
      if (options.gate && !(await options.gate(id))) {
        skip(id, 'declined');
        return;
      }
      try {
        await options.run(id);
        outcomes.set(id, 'succeeded');
      } catch {
        outcomes.set(id, 'failed');
      }
    })().finally(() => {
      running.delete(id);
      wake?.();
    });
    running.set(id, task);
  };

  for (;;) {
    // Propagate skips: a node whose prerequisite failed or was skipped cannot run. Once the run
    // is interrupted, a step that stopped is not a failure: what waits for it is "interrupted".
    let changed = !options.signal.aborted;
    while (changed) {
      changed = false;
      for (const id of order) {
        if (!pending.has(id)) continue;
        const blocker = requires
          .get(id)!
          .find((d) => outcomes.get(d) === 'failed' || outcomes.get(d) === 'skipped');
        if (blocker !== undefined) {
          skip(id, `${blocker} ${outcomes.get(blocker) === 'failed' ? 'failed' : 'was skipped'}`);
          changed = true;
        }
      }
    }
    if (!options.signal.aborted) {
      for (const id of order) {
        if (running.size >= concurrency) break;
        if (!pending.has(id)) continue;
        // A required node that failed has skipped this one above: finished is enough here.
        if (waitsFor.get(id)!.every((d) => outcomes.has(d))) start(id);
      }
    }
    if (running.size === 0) break;
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
    wake = undefined;
  }
  for (const id of pending) {
    skip(id, options.signal.aborted ? 'interrupted' : 'not reached');
  }
  return { outcomes, reasons };
}

function assertAcyclic(nodes: GraphNode[], waitsFor: Map<string, string[]>): void {
  const state = new Map<string, 1 | 2>();
  const visit = (id: string, path: string[]) => {
    if (state.get(id) === 2) return;
    if (state.get(id) === 1) throw new Error(`dependency cycle: ${[...path, id].join(' → ')}`);
    state.set(id, 1);
    for (const d of waitsFor.get(id) ?? []) visit(d, [...path, id]);
    state.set(id, 2);
  };
  for (const n of nodes) visit(n.id, []);
}
