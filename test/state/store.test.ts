import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateStore, STATE_VERSION } from '../../src/state/store.js';
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
      JSON.stringify({ pid: deadPid, host: hostname(), command: 'up', startedAt: 'x' }),
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
});
