/**
 * Stale-lock judgement: a lock is taken over only when its pid is dead in this very pid space
 * (machine, boot, pid namespace), never on the host name alone: containers and cloned machines
 * share host names ("localhost").
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AwsClientFactory } from '../../src/aws/clients.js';
import { machineIdentity, thisMachine, type MachineSources } from '../../src/state/machine.js';
import { S3Backend } from '../../src/state/s3.js';
import { isStale, StateStore, type LockInfo } from '../../src/state/store.js';
import { tempDir } from '../helpers/engine.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { fakeStateBucket } from '../helpers/s3.js';

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  return new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
}

function sources(dir: string, over: Partial<MachineSources> = {}): MachineSources {
  return {
    machineIdFiles: [join(dir, 'etc-machine-id'), join(dir, 'dbus-machine-id')],
    configDir: join(dir, 'config', 'cloudmart'),
    bootIdFile: join(dir, 'boot_id'),
    pidNamespaceLink: join(dir, 'ns-pid'),
    ...over,
  };
}

describe('machine identity', () => {
  it("is an app-specific hash of the OS's machine id, the boot id and the pid namespace: any of them differing gives another identity", () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'etc-machine-id'), '0123456789abcdef0123456789abcdef\n');
    writeFileSync(join(dir, 'boot_id'), 'boot-1\n');
    symlinkSync('pid:[4026531836]', join(dir, 'ns-pid'));
    const id = machineIdentity(sources(dir));
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(id).not.toContain('0123456789abcdef');
    expect(machineIdentity(sources(dir))).toBe(id);
    // Another container on the same host: same machine id and boot, another pid namespace.
    symlinkSync('pid:[4026532999]', join(dir, 'ns-pid-2'));
    expect(machineIdentity(sources(dir, { pidNamespaceLink: join(dir, 'ns-pid-2') }))).not.toBe(id);
    // The same machine after a reboot, or a clone of its image booted elsewhere.
    writeFileSync(join(dir, 'boot_id-2'), 'boot-2\n');
    expect(machineIdentity(sources(dir, { bootIdFile: join(dir, 'boot_id-2') }))).not.toBe(id);
    // Another machine id (/var/lib/dbus/machine-id is read when /etc has none).
    const other = tempDir();
    writeFileSync(join(other, 'dbus-machine-id'), 'fedcba9876543210fedcba9876543210\n');
    writeFileSync(join(other, 'boot_id'), 'boot-1\n');
    symlinkSync('pid:[4026531836]', join(other, 'ns-pid'));
    expect(machineIdentity(sources(other))).not.toBe(id);
    expect(existsSync(join(dir, 'config'))).toBe(false); // nothing written with an OS machine id
  });

  it('without an OS machine id: one random id kept in cloudmart’s config folder (0600), the same for every later run', () => {
    const dir = tempDir();
    const id = machineIdentity(sources(dir));
    const file = join(dir, 'config', 'cloudmart', 'machine-id');
    expect(readFileSync(file, 'utf8')).toMatch(/^[0-9a-f]{32}\n$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(machineIdentity(sources(dir))).toBe(id);
    expect(machineIdentity(sources(tempDir()))).not.toBe(id);
  });

  it('a config folder that cannot be written: an identity of this process alone (its locks are never judged stale elsewhere)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config'), 'a file, not a folder');
    const a = machineIdentity(sources(dir));
    const b = machineIdentity(sources(dir));
    expect(a).not.toBe(b);
  });
});

describe('stale locks', () => {
  it('a dead pid on this host name is stale only with this machine identity; another identity or none (an older cloudmart) may be live elsewhere', async () => {
    const pid = await deadPid();
    const lock: LockInfo = { pid, host: hostname(), command: 'up', startedAt: 'x' };
    expect(isStale({ ...lock, machine: thisMachine() })).toBe(true);
    expect(isStale({ ...lock, machine: 'another-container' })).toBe(false);
    expect(isStale(lock)).toBe(false);
    expect(isStale({ ...lock, machine: thisMachine(), host: 'elsewhere' })).toBe(false);
    expect(isStale({ ...lock, machine: thisMachine(), pid: process.pid })).toBe(false);
  });

  it('local file: a lock of another machine of the same host name is refused, not taken over', async () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'state.json');
    const pid = await deadPid();
    const text = JSON.stringify({
      pid,
      host: hostname(),
      machine: 'another-container',
      command: 'up',
      startedAt: 'x',
    });
    writeFileSync(`${path}.lock`, text);
    const store = new StateStore(path);
    await expect(store.lock('destroy')).rejects.toMatchObject({
      code: 'STATE_LOCKED',
      hint: expect.stringContaining('run "cloudmart destroy" again with --force-unlock'),
    });
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(text);
    // What the lock records now.
    await store.lock('destroy', { force: true });
    expect(JSON.parse(readFileSync(`${path}.lock`, 'utf8'))).toMatchObject({
      pid: process.pid,
      machine: thisMachine(),
    });
    await store.unlock();
  });

  describe('S3', () => {
    let cloud: FakeCloud;
    beforeEach(async () => {
      cloud = await new FakeCloud({ mode: 'instant' }).install();
      await fakeStateBucket(cloud, 'team-state');
    });
    afterEach(() => cloud.uninstall());

    it('a lock of another machine of the same host name is refused, not taken over', async () => {
      const where = { bucket: 'team-state', key: 'k.json', region: 'ap-northeast-2' };
      const pid = await deadPid();
      for (const machine of ['another-container', undefined]) {
        const body = JSON.stringify({
          pid,
          host: hostname(),
          machine,
          command: 'up',
          startedAt: 'x',
        });
        await cloud.call('s3', 'PutObject', {
          Bucket: where.bucket,
          Key: 'k.json.lock',
          Body: body,
        });
        const aws = new AwsClientFactory({ region: where.region, maxAttempts: 1 });
        const store = new StateStore(new S3Backend(where, (r) => aws.get('s3', r)));
        await expect(store.lock('up')).rejects.toMatchObject({ code: 'STATE_LOCKED' });
        const out = (await cloud.call('s3', 'GetObject', {
          Bucket: where.bucket,
          Key: 'k.json.lock',
        })) as { Body: { transformToString(): Promise<string> } };
        expect(await out.Body.transformToString()).toBe(body);
      }
    });
  });
});
