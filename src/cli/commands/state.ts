import { CloudmartError } from '../../errors.js';
import { S3Backend } from '../../state/s3.js';
import { StateStore, type StateFile } from '../../state/store.js';
import type { Io } from '../io.js';
import { awsFactory, readConfig, remoteState, statePath, type GlobalOptions } from '../runtime.js';

export interface StateMoveOptions {
  force?: boolean;
}

function summary(state: StateFile): string {
  const done = Object.values(state.steps).filter((s) => s.status === 'done').length;
  return `${done} step${done === 1 ? '' : 's'} done, ${state.runs.length} run${state.runs.length === 1 ? '' : 's'}, updated ${state.updatedAt}`;
}

/**
 * The local state file and the S3 state of this config, both locked for the move: no run may
 * change either meanwhile.
 */
async function bothStates(io: Io, g: GlobalOptions, command: string) {
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
  const s3 = new StateStore(new S3Backend(remote, () => aws.get('s3', remote.region)));
  await s3.lock(command);
  try {
    await local.lock(command);
  } catch (e) {
    await s3.unlock();
    throw e;
  }
  const release = async () => {
    await local.unlock();
    await s3.unlock();
    await aws.destroy();
  };
  return { config, local, s3, release };
}

/** Text and parsed state, or undefined when there is none. */
async function read(store: StateStore, stack: string, region: string) {
  const text = await store.backend.read();
  if (text === undefined) return undefined;
  const state = await store.load(stack, region);
  return { text, state };
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
    'Someone ran cloudmart on the S3 state since: "cloudmart state pull" fetches it. Pass --force to replace it anyway (the bucket keeps the replaced version).',
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
 * destination updated later than the source is kept unless --force. The destination is read
 * last, so an S3 destination's write is conditional (If-Match) on exactly what was compared.
 */
async function move(
  io: Io,
  opts: StateMoveOptions,
  g: GlobalOptions,
  dir: Direction,
): Promise<number> {
  const { config, local, s3, release } = await bothStates(io, g, dir.command);
  const [source, target] = dir === PUSH ? [local, s3] : [s3, local];
  const name = (store: StateStore) => (store === s3 ? 'S3' : 'local');
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
      io.err(
        `${target.path} already holds exactly ${source.path} (${summary(from.state)}): nothing written.`,
      );
      return 0;
    }
    if (to && Date.parse(to.state.updatedAt) > Date.parse(from.state.updatedAt) && !opts.force) {
      throw new CloudmartError(
        'STATE_CONFLICT',
        `${target.path} is newer than ${source.path} (${name(target)}: ${summary(to.state)}; ${name(source)}: ${summary(from.state)}): not overwriting it`,
        { hint: dir.newerHint },
      );
    }
    await target.backend.write(from.text);
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
