import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { link, mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { CloudmartError } from '../errors.js';
import { thisMachine } from './machine.js';

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
  /** The machine and user that ran it (absent in states older cloudmarts wrote). */
  host?: string;
  user?: string;
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
  /** The operating-system user that ran the command (absent in locks older cloudmarts wrote). */
  user?: string;
  /**
   * The pid space the pid lives in (machine, boot, container: see machine.ts); absent in locks
   * older cloudmarts wrote, which are therefore never judged stale.
   */
  machine?: string;
  command: string;
  startedAt: string;
}

export interface LockOptions {
  /** Take the lock whoever holds it (--force-unlock). */
  force?: boolean;
  /** Told when a stale lock (its process is dead on this host) is taken over. */
  onStale?: (info: LockInfo) => void;
}

/**
 * Where a state and its lock live: a file next to the config (LocalFileBackend, the default) or
 * an S3 object (S3Backend, src/state/s3.ts). The store serialises the state and decides when to
 * write; a backend keeps the bytes and the lock. Both keep one contract: `write` never
 * overwrites a state another run wrote since this one read it (the local lock file keeps runs
 * apart; S3 also checks every write with If-Match), and `lock` has one winner.
 */
export interface StateBackend {
  /** For messages: the state file's path, or s3://bucket/key. */
  readonly location: string;
  /** For messages: the lock file's path, or s3://bucket/key.lock. */
  readonly lockLocation: string;
  /** The state's text, or undefined when there is none yet. */
  read(): Promise<string | undefined>;
  /** Replace the state with `text`. */
  write(text: string): Promise<void>;
  /** Take the lock (the JSON of `info` plus a nonce) or throw STATE_LOCKED naming the holder. */
  lock(info: LockInfo, options: LockOptions): Promise<void>;
  /** Release the lock this backend holds, unless another run took it over meanwhile. */
  unlock(): Promise<void>;
  /** The same, synchronously, for a handler that exits the process right after. Never throws. */
  unlockSync(): void;
}

/** The user name for a lock; an account without one (a container's uid) gives its uid. */
export function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

/**
 * The next step after a refusal: every command that takes the lock (up, destroy, drill, load,
 * state push, state pull) accepts --force-unlock, so the hint names the very command refused.
 */
export function forceUnlockHint(command: string): string {
  return `run "cloudmart ${command}" again with --force-unlock`;
}

/**
 * The refusal of a held lock: who holds it (user, host, pid), doing what, since when; `command`
 * is the refused run's own command, which the hint names with --force-unlock.
 */
export function heldError(where: string, holder: LockInfo, command: string): CloudmartError {
  return new CloudmartError(
    'STATE_LOCKED',
    `Another cloudmart run holds the lock on ${where}: "${holder.command}" (pid ${holder.pid} on ${holder.host}${holder.user ? `, user ${holder.user}` : ''}, since ${holder.startedAt})`,
    {
      hint: `Wait for it to finish. If that run is dead (its machine or container is gone, or it was killed), ${forceUnlockHint(command)}.`,
    },
  );
}

/** A lock's content, or undefined when it is not one (half-written, damaged). */
export function parseLock(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as Partial<LockInfo> | null;
    return typeof info?.pid === 'number' && typeof info.host === 'string'
      ? (info as LockInfo)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A lock whose process is gone: only provable for a lock taken in this very pid space (same
 * machine identity, see machine.ts) and on this host. A lock without a machine identity (an
 * older cloudmart wrote it) may come from another container or machine of the same host name:
 * it is never judged stale (--force-unlock takes it).
 */
export function isStale(holder: LockInfo, machine: string = thisMachine()): boolean {
  return (
    typeof holder.machine === 'string' &&
    holder.machine === machine &&
    holder.host === hostname() &&
    !processAlive(holder.pid)
  );
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
 * The state: read once, updated in memory, written after every transition (a local file
 * atomically: temp file, fsync, rename; an S3 object with If-Match). Writes are serialised so
 * concurrent steps never interleave them. A lock (pid, host, user, command) keeps two runs apart.
 */
export class StateStore {
  /** Where the state lives, for messages: a path, or s3://bucket/key. */
  readonly path: string;
  readonly lockPath: string;
  readonly backend: StateBackend;
  private state: StateFile | undefined;
  private writing: Promise<void> = Promise.resolve();

  /** A path is a local state file; otherwise the backend to use. */
  constructor(pathOrBackend: string | StateBackend) {
    this.backend =
      typeof pathOrBackend === 'string' ? new LocalFileBackend(pathOrBackend) : pathOrBackend;
    this.path = this.backend.location;
    this.lockPath = this.backend.lockLocation;
  }

  /** Load the state, or start an empty one when there is none. Never overwrites a bad one. */
  async load(stack: string, region: string): Promise<StateFile> {
    const text = await this.backend.read();
    this.state =
      text === undefined ? emptyState(stack, region) : parseState(text, this.path, stack);
    return this.state;
  }

  /** The state in memory (load first). */
  get current(): StateFile {
    if (!this.state) throw new CloudmartError('INTERNAL', 'state used before it was loaded');
    return this.state;
  }

  /** Whether a state exists (a file on disk, an object in S3). */
  async exists(): Promise<boolean> {
    try {
      return (await this.backend.read()) !== undefined;
    } catch (e) {
      if (e instanceof CloudmartError) throw e;
      return false;
    }
  }

  /** Apply a change and write the state; returns once this change is stored. */
  update(change: (state: StateFile) => void): Promise<void> {
    const state = this.current;
    change(state);
    state.updatedAt = new Date().toISOString();
    const snapshot = serializeState(state);
    // Each snapshot is the whole state: a write that failed (a 5xx from S3, say) does not stop
    // the later ones from trying. A conflict still stops them: their If-Match meets it again.
    const write = this.writing.catch(() => undefined).then(() => this.backend.write(snapshot));
    this.writing = write;
    return write;
  }

  /** Wait for every pending write. */
  flush(): Promise<void> {
    return this.writing;
  }

  /**
   * Take the lock or throw STATE_LOCKED naming the holder. A lock held by a dead process on
   * this host is taken over (so is any lock with `force`).
   */
  async lock(command: string, options: LockOptions = {}): Promise<void> {
    const info: LockInfo = {
      pid: process.pid,
      host: hostname(),
      user: currentUser(),
      machine: thisMachine(),
      command,
      startedAt: new Date().toISOString(),
    };
    await this.backend.lock(info, options);
  }

  /** Release the lock, unless another run took it over (--force-unlock) in the meantime. */
  unlock(): Promise<void> {
    return this.backend.unlock();
  }

  /**
   * The same, synchronously: for a handler that exits the process right after (a second
   * Ctrl-C), where an async unlock would never get to run. Never throws.
   */
  unlockSync(): void {
    this.backend.unlockSync();
  }
}

/** The text every backend stores: the state as indented JSON. */
export function serializeState(state: StateFile): string {
  return JSON.stringify(state, null, 2) + '\n';
}

/** Parse and check a stored state of `stack`; `where` names it in errors. */
export function parseState(text: string, where: string, stack: string): StateFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new CloudmartError(
      'STATE_CORRUPT',
      `State file ${where} is not valid JSON: ${(e as Error).message}`,
      {
        hint: `Move it aside (it is left untouched) and run "cloudmart destroy" or "cloudmart up": resources are found again by their tags.`,
      },
    );
  }
  const state = validateState(data, where);
  if (state.stack !== stack) {
    throw new CloudmartError(
      'STATE_CORRUPT',
      `State file ${where} belongs to stack "${state.stack}", not "${stack}"`,
      { hint: 'Pass the matching --config, or --state to choose another state file.' },
    );
  }
  return state;
}

/**
 * Today's default: `<stack>.state.json` next to the config, written atomically, and a lock
 * file beside it.
 */
export class LocalFileBackend implements StateBackend {
  readonly location: string;
  readonly lockLocation: string;
  /** The content of the lock this backend holds, if it holds one. */
  private lockText: string | undefined;

  constructor(path: string) {
    this.location = path;
    this.lockLocation = `${path}.lock`;
  }

  read(): Promise<string | undefined> {
    return readText(this.location);
  }

  write(text: string): Promise<void> {
    return writeAtomic(this.location, text);
  }

  /**
   * The lock file appears with its whole content at once (written to a temp file, then
   * hard-linked into place, which fails if a lock exists), so no run can read it half-written.
   * A lock that cannot be read anyway (an older cloudmart wrote it in two steps, a crash
   * truncated it) counts as held while it is younger than LOCK_WRITE_GRACE_MS. Takeovers are
   * serialised by a second lock file and only remove the very lock that was judged stale.
   */
  async lock(info: LockInfo, options: LockOptions): Promise<void> {
    const lockPath = this.lockLocation;
    await mkdir(dirname(lockPath), { recursive: true });
    // The nonce tells this lock apart from one the same process takes in the same millisecond
    // (unlock removes only its own).
    const text = JSON.stringify({ ...info, nonce: randomBytes(8).toString('hex') });
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      if (await createExclusive(lockPath, text)) {
        this.lockText = text;
        return;
      }
      const seen = await inspectLock(lockPath);
      if (seen.kind !== 'gone') {
        if (seen.kind === 'held' && !options.force)
          throw heldError(this.location, seen.holder, info.command);
        if (seen.kind === 'writing' && !options.force) {
          throw new CloudmartError(
            'STATE_LOCKED',
            `Another cloudmart run is taking the lock on ${this.location} right now (its lock file ${lockPath} is not complete yet)`,
            { hint: 'Wait for that run to finish, then run the command again.' },
          );
        }
        const outcome = await takeOver(lockPath, seen.text, text);
        if (outcome === 'taken') {
          if (seen.kind === 'stale' && seen.holder && !options.force)
            options.onStale?.(seen.holder);
          this.lockText = text;
          return;
        }
      }
      // The lock changed under us (released, taken by another run) or a takeover is under way:
      // look again shortly. Whoever holds it then is reported as the holder.
      if (Date.now() > deadline) {
        throw new CloudmartError('STATE_LOCKED', `Could not take the lock ${lockPath}`, {
          hint: 'Another run is starting at the same moment; run the command again.',
        });
      }
      await delay(LOCK_RETRY_MS);
    }
  }

  async unlock(): Promise<void> {
    const mine = this.lockText;
    if (mine === undefined) return;
    this.lockText = undefined;
    if ((await readText(this.lockLocation)) === mine) await rm(this.lockLocation, { force: true });
  }

  unlockSync(): void {
    const mine = this.lockText;
    if (mine === undefined) return;
    this.lockText = undefined;
    try {
      if (readFileSync(this.lockLocation, 'utf8') === mine)
        rmSync(this.lockLocation, { force: true });
    } catch {
      // Gone already, or unreadable: nothing of ours to remove.
    }
  }
}

/** A lock file that cannot be parsed is held while younger than this (it may be mid-write). */
export const LOCK_WRITE_GRACE_MS = 10_000;
/** How long lock() keeps looking while the lock changes under it (release, takeover). */
export const LOCK_WAIT_MS = 3_000;
export const LOCK_RETRY_MS = 10;

type LockSeen =
  | { kind: 'gone' }
  | { kind: 'held'; holder: LockInfo; text: string }
  | { kind: 'stale'; holder: LockInfo | undefined; text: string }
  | { kind: 'writing'; text: string };

/** Who holds the lock, judged from its content and, when that is unreadable, its age. */
async function inspectLock(path: string): Promise<LockSeen> {
  const text = await readText(path);
  if (text === undefined) return { kind: 'gone' };
  const holder = parseLock(text);
  if (holder) {
    return isStale(holder) ? { kind: 'stale', holder, text } : { kind: 'held', holder, text };
  }
  const st = await stat(path).catch(() => undefined);
  if (st === undefined) return { kind: 'gone' };
  return Date.now() - st.mtimeMs < LOCK_WRITE_GRACE_MS
    ? { kind: 'writing', text }
    : { kind: 'stale', holder: undefined, text };
}

export async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Create `path` with `content` only if it does not exist, all at once: the content goes to a
 * temp file (fsync'd) that is then hard-linked to `path`; link() fails with EEXIST if `path`
 * exists. Returns false when it exists. On a file system without hard links, falls back to an
 * exclusive create followed by a write (readers then treat a young unreadable lock as held).
 */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP')
      throw e;
    return createExclusiveWithoutLink(path, content);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function createExclusiveWithoutLink(path: string, content: string): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

/**
 * Replace the lock whose content was `judged` (stale, or forced) by ours. Only one run takes
 * over at a time (the `.takeover` file), and it removes the lock only if it is still the one
 * it judged: two runs that both saw the same stale lock cannot both end up holding a lock.
 */
async function takeOver(
  lockPath: string,
  judged: string,
  ours: string,
): Promise<'taken' | 'changed' | 'busy'> {
  const guard = `${lockPath}.takeover`;
  if (!(await createExclusive(guard, ours))) {
    // A run that died in the middle of a takeover leaves the guard behind: clear it once old.
    const st = await stat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs >= LOCK_WRITE_GRACE_MS) await rm(guard, { force: true });
    return 'busy';
  }
  try {
    if ((await readText(lockPath)) !== judged) return 'changed';
    // Move it aside (atomic) and check that what moved is still the judged lock; if another
    // run's lock slipped in between, put it back.
    const aside = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
    try {
      await rename(lockPath, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'changed';
      throw e;
    }
    if ((await readText(aside)) !== judged) {
      await link(aside, lockPath).catch(() => undefined);
      await rm(aside, { force: true });
      return 'changed';
    }
    await rm(aside, { force: true });
    return (await createExclusive(lockPath, ours)) ? 'taken' : 'changed';
  } finally {
    await rm(guard, { force: true });
  }
}

export function processAlive(pid: number): boolean {
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
