import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  LOCK_WRITE_GRACE_MS,
  StateStore,
  STATE_VERSION,
  type StateBackend,
} from '../../src/state/store.js';
import { thisMachine } from '../../src/state/machine.js';
import { tempDir } from '../helpers/engine.js';

const load = async (path: string) => {
  const s = new StateStore(path);
  await s.load('cloudmart', 'ap-northeast-2');
  return s;
};

describe('state store', () => {
  it('starts empty, writes atomically and leaves no temp files behind', async () => {
    const dir = tempDir();
    const path = join(dir, 'sub', 'cloudmart.state.json');
    const store = await load(path);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.update((s) => {
          s.steps[`s${i}`] = { status: 'done', attempts: 1, outputs: { i } };
        }),
      ),
    );
    const onDisk = JSON.parse(readFileSync(path, 'utf8'));
    expect(onDisk.version).toBe(STATE_VERSION);
    expect(Object.keys(onDisk.steps)).toHaveLength(20);
    expect(readdirSync(join(dir, 'sub')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a corrupt file with a clear error and does not overwrite it', async () => {
    const path = join(tempDir(), 'state.json');
    writeFileSync(path, '{"version": 1, "stack": "cloud');
    await expect(load(path)).rejects.toMatchObject({
      code: 'STATE_CORRUPT',
      message: expect.stringContaining('not valid JSON'),
    });
    expect(readFileSync(path, 'utf8')).toBe('{"version": 1, "stack": "cloud');
  });

  it('refuses a newer state version and says to upgrade', async () => {
    const path = join(tempDir(), 'state.json');
    writeFileSync(
      path,
      JSON.stringify({ version: 99, stack: 'cloudmart', region: 'x', steps: {} }),
    );
    await expect(load(path)).rejects.toMatchObject({
      code: 'STATE_VERSION',
      hint: expect.stringContaining('Upgrade'),
    });
  });

  it('refuses a state file of another stack', async () => {
    const path = join(tempDir(), 'state.json');
    writeFileSync(
      path,
      JSON.stringify({ version: 1, stack: 'other', region: 'x', steps: {}, runs: [] }),
    );
    await expect(load(path)).rejects.toMatchObject({ code: 'STATE_CORRUPT' });
  });

  it('a second run cannot take a held lock; the first releases it', async () => {
    const path = join(tempDir(), 'state.json');
    const first = await load(path);
    const second = await load(path);
    await first.lock('up');
    await expect(second.lock('up')).rejects.toMatchObject({
      code: 'STATE_LOCKED',
      message: expect.stringContaining(`pid ${process.pid}`),
    });
    await first.unlock();
    await second.lock('destroy');
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({
      command: 'destroy',
      host: hostname(),
    });
    await second.unlock();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('takes over a stale lock of a dead process on this host, with a warning', async () => {
    const path = join(tempDir(), 'state.json');
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) =>
      child.on('exit', () => resolve(child.pid!)),
    );
    writeFileSync(
      `${path}.lock`,
      JSON.stringify({
        pid: deadPid,
        host: hostname(),
        machine: thisMachine(),
        command: 'up',
        startedAt: 'x',
      }),
    );
    const store = await load(path);
    const stale: number[] = [];
    await store.lock('up', { onStale: (i) => stale.push(i.pid) });
    expect(stale).toEqual([deadPid]);
    await store.unlock();
  });

  it('--force-unlock takes a live lock held on another host', async () => {
    const path = join(tempDir(), 'state.json');
    writeFileSync(
      `${path}.lock`,
      JSON.stringify({ pid: 1, host: 'elsewhere', command: 'up', startedAt: 'x' }),
    );
    const store = await load(path);
    await expect(store.lock('up')).rejects.toMatchObject({ code: 'STATE_LOCKED' });
    await store.lock('up', { force: true });
    await store.unlock();
  });

  it('a lock file that cannot be read yet counts as held while it is young, and as stale once old', async () => {
    const path = join(tempDir(), 'state.json');
    const lockPath = `${path}.lock`;
    // What a reader saw in the old two-step write: the file exists but is empty or half-written.
    for (const partial of ['', '{"pid": 12']) {
      writeFileSync(lockPath, partial);
      const store = await load(path);
      await expect(store.lock('up')).rejects.toMatchObject({
        code: 'STATE_LOCKED',
        message: expect.stringContaining('taking the lock'),
      });
      expect(readFileSync(lockPath, 'utf8')).toBe(partial);
    }
    // Older than the grace period: whoever wrote it died mid-write; it is taken over.
    const old = (Date.now() - LOCK_WRITE_GRACE_MS - 5_000) / 1000;
    utimesSync(lockPath, old, old);
    const store = await load(path);
    const stale: unknown[] = [];
    await store.lock('destroy', { onStale: (i) => stale.push(i) });
    expect(JSON.parse(readFileSync(lockPath, 'utf8'))).toMatchObject({
      command: 'destroy',
      pid: process.pid,
    });
    expect(stale).toEqual([]); // no holder to name
    await store.unlock();
    expect(existsSync(lockPath)).toBe(false);
  });

  it('two runs racing for a free lock: exactly one gets it, the other names it as the holder', async () => {
    const dir = tempDir();
    for (let round = 0; round < 30; round++) {
      const path = join(dir, `state-${round}.json`);
      const stores = [await load(path), await load(path), await load(path)];
      const results = await Promise.allSettled(stores.map((s, i) => s.lock(`run-${i}`)));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won, `round ${round}`).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') {
          expect(r.reason).toMatchObject({
            code: 'STATE_LOCKED',
            message: expect.stringContaining(`"run-${won[0]}" (pid ${process.pid}`),
          });
        }
      }
      expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({
        command: `run-${won[0]}`,
      });
      await stores[won[0]!]!.unlock();
    }
    // No temp file of the atomic create is left behind.
    expect(readdirSync(dir).filter((f) => !f.endsWith('.json'))).toEqual([]);
  });

  it('two runs taking over the same stale lock: exactly one gets it', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) =>
      child.on('exit', () => resolve(child.pid!)),
    );
    const dir = tempDir();
    for (let round = 0; round < 30; round++) {
      const path = join(dir, `state-${round}.json`);
      writeFileSync(
        `${path}.lock`,
        JSON.stringify({
          pid: deadPid,
          host: hostname(),
          machine: thisMachine(),
          command: 'up',
          startedAt: 'x',
        }),
      );
      const stores = [await load(path), await load(path), await load(path)];
      const stale: number[] = [];
      const results = await Promise.allSettled(
        stores.map((s, i) => s.lock(`run-${i}`, { onStale: (info) => stale.push(info.pid) })),
      );
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won, `round ${round}`).toHaveLength(1);
      // The one that took it over says so; a run that found the lock already cleared says nothing.
      expect(stale.length).toBeLessThanOrEqual(1);
      expect(stale.every((p) => p === deadPid)).toBe(true);
      for (const r of results) {
        if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'STATE_LOCKED' });
      }
      expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({
        command: `run-${won[0]}`,
      });
      await stores[won[0]!]!.unlock();
      expect(existsSync(`${path}.lock`)).toBe(false);
    }
    expect(readdirSync(dir).filter((f) => !f.endsWith('.json'))).toEqual([]);
  });

  it('clears a takeover left behind by a run that died in the middle of it, once old', async () => {
    const path = join(tempDir(), 'state.json');
    writeFileSync(
      `${path}.lock`,
      JSON.stringify({ pid: 1, host: 'elsewhere', command: 'up', startedAt: 'x' }),
    );
    writeFileSync(`${path}.lock.takeover`, '');
    const old = (Date.now() - LOCK_WRITE_GRACE_MS - 5_000) / 1000;
    utimesSync(`${path}.lock.takeover`, old, old);
    const store = await load(path);
    await store.lock('destroy', { force: true });
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ command: 'destroy' });
    expect(existsSync(`${path}.lock.takeover`)).toBe(false);
    await store.unlock();
  });

  it('unlockSync removes its own lock at once, and leaves alone a lock another run took over', async () => {
    const path = join(tempDir(), 'state.json');
    const first = await load(path);
    await first.lock('up');
    first.unlockSync();
    // Synchronous: gone before anything else runs (a second Ctrl-C exits right after).
    expect(existsSync(`${path}.lock`)).toBe(false);
    first.unlockSync();

    const second = await load(path);
    await first.lock('up');
    await second.lock('destroy', { force: true });
    first.unlockSync();
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ command: 'destroy' });
    second.unlockSync();
    expect(existsSync(`${path}.lock`)).toBe(false);
    // A store that holds no lock removes nothing.
    await second.lock('up');
    new StateStore(path).unlockSync();
    expect(existsSync(`${path}.lock`)).toBe(true);
    await second.unlock();
  });

  it('unlock leaves alone a lock that another run took over with --force-unlock', async () => {
    const path = join(tempDir(), 'state.json');
    const first = await load(path);
    const second = await load(path);
    await first.lock('up');
    await second.lock('destroy', { force: true });
    await first.unlock();
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({ command: 'destroy' });
    await second.unlock();
    expect(existsSync(`${path}.lock`)).toBe(false);
  });
});

describe('state writes after a failed one', () => {
  it('a write that failed (a 5xx, say) does not stop the later ones; each caller gets its own outcome', async () => {
    const written: string[] = [];
    let failNext = false;
    const backend: StateBackend = {
      location: 'memory',
      lockLocation: 'memory.lock',
      read: () => Promise.resolve(undefined),
      write: (text) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error('InternalError: We encountered an internal error'));
        }
        written.push(text);
        return Promise.resolve();
      },
      lock: () => Promise.resolve(),
      unlock: () => Promise.resolve(),
      unlockSync: () => undefined,
    };
    const store = new StateStore(backend);
    await store.load('cloudmart', 'ap-northeast-2');
    failNext = true;
    await expect(store.update((s) => (s.region = 'ap-northeast-2'))).rejects.toThrow(/internal/);
    await store.update((s) => (s.stack = 'cloudmart'));
    await expect(store.flush()).resolves.toBeUndefined();
    expect(written).toHaveLength(1);
  });
});
