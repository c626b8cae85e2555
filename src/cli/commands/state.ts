import { createHash } from 'node:crypto';
import { CloudmartError } from '../../errors.js';
import { readText, StateStore, writeAtomic, type StateFile } from '../../state/store.js';
import type { Io } from '../io.js';
import {
  awsFactory,
  readConfig,
  remoteState,
  s3Backend,
  statePath,
  type GlobalOptions,
} from '../runtime.js';

export interface StateMoveOptions {
  force?: boolean;
  /** Take both locks even if another run seems to hold them. */
  forceUnlock?: boolean;
}

function summary(state: StateFile): string {
  const done = Object.values(state.steps).filter((s) => s.status === 'done').length;
  return `${done} step${done === 1 ? '' : 's'} done, ${state.runs.length} run${state.runs.length === 1 ? '' : 's'}, updated ${state.updatedAt}`;
}

/**
 * The local state file and the S3 state of this config, both locked for the move: no run may
 * change either meanwhile.
 */
async function bothStates(io: Io, g: GlobalOptions, command: string, forceUnlock: boolean) {
  const config = await readConfig(g, io);
  // --state s3://… names the S3 side; --state <file> the local one (the config gives the other).
  const remote = remoteState(
    { ...g, state: g.state?.startsWith('s3://') ? g.state : undefined },
    config,
  );
  if (!remote) {
    throw new CloudmartError(
      'USAGE',
      `${command}: the config has no S3 state (state: { backend: s3, bucket, key }) and --state names no s3://bucket/key`,
      {
        exitCode: 2,
        hint: 'Create the bucket and the state block with "cloudmart init --remote-state", or pass --state s3://bucket/key.',
      },
    );
  }
  const aws = awsFactory(g, config);
  const local = new StateStore(statePath(g, config));
  const backend = s3Backend(remote, aws, io);
  const s3 = new StateStore(backend);
  const lockOptions = {
    force: forceUnlock,
    onStale: (info: { command: string; pid: number }) =>
      io.err(`! Taking over a stale lock of "${info.command}" (pid ${info.pid} is not running).`),
  };
  await s3.lock(command, lockOptions);
  try {
    await local.lock(command, lockOptions);
  } catch (e) {
    await s3.unlock();
    throw e;
  }
  const release = async () => {
    await local.unlock();
    await s3.unlock();
    await aws.destroy();
  };
  return { config, local, s3, backend, release };
}

/** Text and parsed state, or undefined when there is none. */
async function read(store: StateStore, stack: string, region: string) {
  const text = await store.backend.read();
  if (text === undefined) return undefined;
  const state = await store.load(stack, region);
  return { text, state };
}

/**
 * What `older` holds that `newer` does not: runs (by command, start, user and host) and the
 * recorded load test and drills (by their time). Empty when `newer` carries all of `older`'s
 * work, i.e. `newer` was made from `older` and only added to it. No clock is compared, so two
 * machines' clocks may disagree.
 */
export function lostWork(older: StateFile, newer: StateFile): string[] {
  const id = (r: StateFile['runs'][number]) =>
    JSON.stringify([r.command, r.startedAt, r.user ?? '', r.host ?? '']);
  const has = new Set(newer.runs.map(id));
  const lost = older.runs
    .filter((r) => !has.has(id(r)))
    .map(
      (r) =>
        `the ${r.command} run of ${r.startedAt}${r.user ? ` by ${r.user}` : ''}${r.host ? ` on ${r.host}` : ''}`,
    );
  const load = older.results.load;
  if (load && load.at !== newer.results.load?.at) lost.push(`the load test of ${load.at}`);
  for (const [name, drill] of Object.entries(older.results.drills ?? {})) {
    if (drill.at !== newer.results.drills?.[name]?.at)
      lost.push(`the ${name} drill of ${drill.at}`);
  }
  return lost;
}

/**
 * What a push or pull last left the same on both sides, kept next to the local file
 * (`<file>.synced`): the S3 object's ETag then, and a hash of the local text then. A push may
 * replace an S3 state whose ETag is still that one (nobody wrote it since), a pull a local file
 * whose text is still that one (no run changed it since), whatever either holds.
 */
interface SyncMark {
  s3: string;
  etag: string;
  sha256: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const markPath = (local: StateStore) => `${local.path}.synced`;

async function readMark(local: StateStore): Promise<SyncMark | undefined> {
  try {
    const text = await readText(markPath(local));
    const mark = text === undefined ? undefined : (JSON.parse(text) as Partial<SyncMark>);
    return typeof mark?.s3 === 'string' &&
      typeof mark.etag === 'string' &&
      typeof mark.sha256 === 'string'
      ? (mark as SyncMark)
      : undefined;
  } catch {
    return undefined; // unreadable: judged by content alone
  }
}

/** What differs between a push and a pull: the words, and which store is the source. */
interface Direction {
  command: 'state push' | 'state pull';
  verb: string;
  missingHint: string;
  newerHint: string;
  /** The next thing to know, once the copy is written. */
  after(s3: string, local: string, config: { state?: { backend: string } }): string;
}

const PUSH: Direction = {
  command: 'state push',
  verb: 'Pushed',
  missingHint:
    'Pass --state <file> to name it, or "cloudmart state pull" to fetch the S3 state instead.',
  newerHint:
    'Someone ran cloudmart on the S3 state since the local file was taken from it: "cloudmart state pull" fetches it. Pass --force to replace it anyway (the bucket keeps the replaced version).',
  after: (s3, _local, config) =>
    `The local file is left as it was. Runs with this config use ${s3} from now on${config.state?.backend === 's3' ? '' : ` only when given --state ${s3} (add the state: block to the config to make it the default)`}.`,
};

const PULL: Direction = {
  command: 'state pull',
  verb: 'Pulled',
  missingHint: '"cloudmart state push" puts a local state there; "cloudmart up" starts one.',
  newerHint:
    '"cloudmart state push" sends the local one to S3 instead; pass --force to replace the local file anyway.',
  after: (s3, local) =>
    `Runs with --state ${local} use this copy; runs with the config's state: block keep using ${s3}.`,
};

/**
 * Copy one state over the other, both locked: nothing is written when they are the same, and a
 * destination holding work the source lacks (a run, a load test, a drill) is kept unless
 * --force — unless the destination is unchanged since the last push or pull (its sync mark),
 * when the source is that state plus what was done since. Clocks are never compared: two
 * machines' clocks may disagree. The destination is read last, so an S3 destination's write is
 * conditional (If-Match) on exactly what was compared.
 */
async function move(
  io: Io,
  opts: StateMoveOptions,
  g: GlobalOptions,
  dir: Direction,
): Promise<number> {
  const { config, local, s3, backend, release } = await bothStates(
    io,
    g,
    dir.command,
    opts.forceUnlock ?? false,
  );
  const [source, target] = dir === PUSH ? [local, s3] : [s3, local];
  const name = (store: StateStore) => (store === s3 ? 'S3' : 'local');
  const mark = async (text: string) => {
    const etag = backend.lastEtag;
    if (etag === null) return;
    const synced: SyncMark = { s3: s3.path, etag, sha256: sha256(text) };
    await writeAtomic(markPath(local), JSON.stringify(synced, null, 2) + '\n');
  };
  try {
    const from = await read(source, config.stack, config.region);
    if (!from) {
      throw new CloudmartError('USAGE', `There is no state at ${source.path} to copy`, {
        exitCode: 2,
        hint: dir.missingHint,
      });
    }
    const to = await read(target, config.stack, config.region);
    if (to?.text === from.text) {
      await mark(from.text);
      io.err(
        `${target.path} already holds exactly ${source.path} (${summary(from.state)}): nothing written.`,
      );
      return 0;
    }
    if (to && !opts.force) {
      const synced = await readMark(local);
      const unchanged =
        synced?.s3 === s3.path &&
        (target === s3 ? synced.etag === backend.lastEtag : synced.sha256 === sha256(to.text));
      const lost = unchanged ? [] : lostWork(to.state, from.state);
      if (lost.length > 0) {
        const list =
          lost.slice(0, 3).join(', ') + (lost.length > 3 ? ` and ${lost.length - 3} more` : '');
        throw new CloudmartError(
          'STATE_CONFLICT',
          `${target.path} holds work that ${source.path} does not (${list}): not overwriting it (${name(target)}: ${summary(to.state)}; ${name(source)}: ${summary(from.state)})`,
          { hint: dir.newerHint },
        );
      }
    }
    await target.backend.write(from.text);
    await mark(from.text);
    io.err(
      `${dir.verb} ${source.path} (${summary(from.state)}) to ${target.path}${to ? `, replacing a state with ${summary(to.state)}${target === s3 ? ' (the bucket keeps that version)' : ''}` : ''}.`,
    );
    io.err(dir.after(s3.path, local.path, config));
    return 0;
  } finally {
    await release();
  }
}

/** `state push`: the local state file becomes the S3 state. */
export function statePushCommand(
  io: Io,
  opts: StateMoveOptions,
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  return move(io, opts, cmd.optsWithGlobals(), PUSH);
}

/** `state pull`: the S3 state becomes the local state file (written atomically). */
export function statePullCommand(
  io: Io,
  opts: StateMoveOptions,
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  return move(io, opts, cmd.optsWithGlobals(), PULL);
}
