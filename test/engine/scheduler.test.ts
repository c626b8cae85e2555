import { describe, expect, it } from 'vitest';
import { schedule, type GraphNode } from '../../src/engine/scheduler.js';

/** Runs `nodes`, recording when each one starts and ends; `fail` ids reject. */
async function trace(nodes: GraphNode[], fail: string[] = [], concurrency = 8) {
  const log: string[] = [];
  const result = await schedule(nodes, {
    concurrency,
    signal: new AbortController().signal,
    run: async (id) => {
      log.push(`start ${id}`);
      // Let every other runnable node start before this one ends.
      await new Promise<void>((r) => setImmediate(r));
      log.push(`end ${id}`);
      if (fail.includes(id)) throw new Error(`${id} failed`);
    },
  });
  const at = (e: string) => {
    const i = log.indexOf(e);
    if (i === -1) throw new Error(`${e} never happened: ${log.join(', ')}`);
    return i;
  };
  return { log, result, at };
}

describe('scheduler', () => {
  it('an ordering-only edge waits for the node to finish and runs after it fails', async () => {
    const { result, at } = await trace(
      [
        { id: 'a', after: [] },
        { id: 'b', after: ['a'], requires: [] },
      ],
      ['a'],
    );
    expect(at('start b')).toBeGreaterThan(at('end a'));
    expect(result.outcomes.get('a')).toBe('failed');
    expect(result.outcomes.get('b')).toBe('succeeded');
  });

  it('an ordering-only edge on a skipped node still runs the node', async () => {
    const { result, at } = await trace(
      [
        { id: 'a', after: [] },
        { id: 'skipped', after: ['a'] },
        { id: 'c', after: ['skipped'], requires: [] },
      ],
      ['a'],
    );
    expect(result.outcomes.get('skipped')).toBe('skipped');
    expect(result.outcomes.get('c')).toBe('succeeded');
    expect(at('start c')).toBeGreaterThan(at('end a'));
  });

  it('a required node that fails skips its dependents (the default for every `after`)', async () => {
    const { result, log } = await trace(
      [
        { id: 'a', after: [] },
        { id: 'b', after: ['a'] },
        { id: 'c', after: ['x', 'a'], requires: ['a'] },
        { id: 'x', after: [] },
      ],
      ['a'],
    );
    expect(result.outcomes.get('b')).toBe('skipped');
    expect(result.outcomes.get('c')).toBe('skipped');
    expect(result.reasons.get('c')).toBe('a failed');
    expect(log).not.toContain('start b');
    expect(result.outcomes.get('x')).toBe('succeeded');
  });

  it('waits for a required node that is not listed in `after` as well', async () => {
    const { at } = await trace([
      { id: 'a', after: [] },
      { id: 'b', after: [], requires: ['a'] },
    ]);
    expect(at('start b')).toBeGreaterThan(at('end a'));
  });

  it('without edges, nodes overlap', async () => {
    const { at } = await trace([
      { id: 'a', after: [] },
      { id: 'b', after: [] },
    ]);
    expect(at('start b')).toBeLessThan(at('end a'));
  });

  it('refuses a cycle that goes through an ordering-only edge', async () => {
    await expect(
      trace([
        { id: 'a', after: ['b'] },
        { id: 'b', after: ['a'], requires: [] },
      ]),
    ).rejects.toThrow(/dependency cycle/);
  });
});

describe('scheduler on Ctrl-C', () => {
  it('reports what waits for a stopped node as interrupted, not as "failed"', async () => {
    const ac = new AbortController();
    const result = await schedule(
      [
        { id: 'rds', after: [] },
        { id: 'encryption', after: ['rds'] },
      ],
      {
        concurrency: 8,
        signal: ac.signal,
        run: async (id) => {
          if (id !== 'rds') return;
          ac.abort();
          await Promise.resolve();
          throw new Error('stopped');
        },
      },
    );
    expect(result.outcomes.get('encryption')).toBe('skipped');
    expect(result.reasons.get('encryption')).toBe('interrupted');
  });
});
