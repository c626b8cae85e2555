import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { CloudmartError } from '../errors.js';

export const STATE_VERSION = 1;

export type StepStatus = 'pending' | 'in_progress' | 'done' | 'failed' | 'destroyed';

export interface StepState {
  status: StepStatus;
  outputs?: Record<string, unknown>;
  startedAt?: string;
  finishedAt?: string;
  attempts: number;
  lastError?: { code: string; message: string };
}

export interface RunRecord {
  command: string;
  startedAt: string;
  finishedAt?: string;
  outcome?: 'succeeded' | 'failed' | 'interrupted';
}

/** Results of Phase 5 that verify reads (load test, drills). */
export interface Results {
  load?: Record<string, unknown> & { at: string };
  drills?: Record<string, Record<string, unknown> & { at: string }>;
}

export interface StateFile {
  version: typeof STATE_VERSION;
  stack: string;
  region: string;
  createdAt: string;
  updatedAt: string;
  steps: Record<string, StepState>;
  runs: RunRecord[];
  results: Results;
}

export interface LockInfo {
  pid: number;
  host: string;
  command: string;
  startedAt: string;
}

/** `.cloudmart/<stack>.state.json` next to the config, unless a path is given. */
export function defaultStatePath(stack: string, dir = '.cloudmart'): string {
  return join(dir, `${stack}.state.json`);
}

export function emptyState(stack: string, region: string, now = new Date()): StateFile {
  const at = now.toISOString();
  return {
    version: STATE_VERSION,
    stack,
    region,
    createdAt: at,
    updatedAt: at,
    steps: {},
    runs: [],
    results: {},
  };
}

/**
 * The state file: read once, updated in memory, written atomically (temp file, fsync, rename)
 * after every transition. Writes are serialised so concurrent steps never interleave them.
 * A lock file (pid, host, command) keeps two runs apart.
 */
export class StateStore {
  readonly path: string;
  readonly lockPath: string;
  private state: StateFile | undefined;
  private writing: Promise<void> = Promise.resolve();
  private locked = false;

  constructor(path: string) {
    this.path = path;
    this.lockPath = `${path}.lock`;
  }

  /** Load the file, or start an empty state when there is none. Never overwrites a bad file. */
  async load(stack: string, region: string): Promise<StateFile> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.state = emptyState(stack, region);
      return this.state;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new CloudmartError(
        'STATE_CORRUPT',
        `State file ${this.path} is not valid JSON: ${(e as Error).message}`,
        {
          hint: `Move it aside (it is left untouched) and run "cloudmart destroy" or "cloudmart up": resources are found again by their tags.`,
        },
      );
    }
    this.state = validateState(data, this.path);
    if (this.state.stack !== stack) {
      throw new CloudmartError(
        'STATE_CORRUPT',
        `State file ${this.path} belongs to stack "${this.state.stack}", not "${stack}"`,
        { hint: 'Pass the matching --config, or --state to choose another state file.' },
      );
    }
    return this.state;
  }

  /** The state in memory (load first). */
  get current(): StateFile {
    if (!this.state) throw new CloudmartError('INTERNAL', 'state used before it was loaded');
    return this.state;
  }

  /** Whether a state file exists on disk. */
  async exists(): Promise<boolean> {
    try {
      await readFile(this.path);
      return true;
    } catch {
      return false;
    }
  }

  /** Apply a change and write the file atomically; returns once this change is on disk. */
  update(change: (state: StateFile) => void): Promise<void> {
    const state = this.current;
    change(state);
    state.updatedAt = new Date().toISOString();
    const snapshot = JSON.stringify(state, null, 2) + '\n';
    this.writing = this.writing.then(() => writeAtomic(this.path, snapshot));
    return this.writing;
  }

  /** Wait for every pending write. */
  flush(): Promise<void> {
    return this.writing;
  }

  /** Take the lock or throw STATE_LOCKED. A lock held by a dead process on this host is taken over. */
  async lock(
    command: string,
    options: { force?: boolean; onStale?: (info: LockInfo) => void } = {},
  ): Promise<void> {
    await mkdir(dirname(this.lockPath), { recursive: true });
    const info: LockInfo = {
      pid: process.pid,
      host: hostname(),
      command,
      startedAt: new Date().toISOString(),
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.lockPath, 'wx');
        try {
          await fh.writeFile(JSON.stringify(info));
          await fh.sync();
        } finally {
          await fh.close();
        }
        this.locked = true;
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = await readLock(this.lockPath);
      const stale =
        holder === undefined || (holder.host === hostname() && !processAlive(holder.pid));
      if (options.force || stale) {
        if (holder && !options.force) options.onStale?.(holder);
        await rm(this.lockPath, { force: true });
        continue;
      }
      throw new CloudmartError(
        'STATE_LOCKED',
        `Another cloudmart run holds the lock on ${this.path}: "${holder.command}" (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})`,
        {
          hint: 'Wait for it to finish. If that run is dead on another machine, run again with --force-unlock.',
        },
      );
    }
    throw new CloudmartError('STATE_LOCKED', `Could not take the lock ${this.lockPath}`);
  }

  async unlock(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    await rm(this.lockPath, { force: true });
  }
}

async function readLock(path: string): Promise<LockInfo | undefined> {
  try {
    const info = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    return typeof info.pid === 'number' ? info : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function writeAtomic(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

const STATUSES: StepStatus[] = ['pending', 'in_progress', 'done', 'failed', 'destroyed'];

function validateState(data: unknown, path: string): StateFile {
  const bad = (why: string) =>
    new CloudmartError('STATE_CORRUPT', `State file ${path} is damaged: ${why}`, {
      hint: 'It is left untouched. Move it aside and run the command again: resources are found again by their tags.',
    });
  if (typeof data !== 'object' || data === null) throw bad('not an object');
  const s = data as Partial<StateFile> & { version?: unknown };
  if (typeof s.version !== 'number') throw bad('no version');
  if (s.version > STATE_VERSION) {
    throw new CloudmartError(
      'STATE_VERSION',
      `State file ${path} has version ${s.version}, newer than this cloudmart understands (${STATE_VERSION})`,
      { hint: 'Upgrade cloudmart (npm install cloudmart@latest) and run the command again.' },
    );
  }
  if (s.version !== STATE_VERSION) throw bad(`unknown version ${String(s.version)}`);
  if (typeof s.stack !== 'string' || typeof s.region !== 'string') throw bad('no stack or region');
  if (typeof s.steps !== 'object' || s.steps === null) throw bad('no steps');
  for (const [id, st] of Object.entries(s.steps)) {
    if (typeof st !== 'object' || st === null || !STATUSES.includes(st.status))
      throw bad(`step ${id} has no valid status`);
  }
  return {
    ...(s as StateFile),
    runs: Array.isArray(s.runs) ? s.runs : [],
    results: typeof s.results === 'object' && s.results !== null ? s.results : {},
  };
}
