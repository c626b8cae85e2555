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

/**
 * `state push`: the local state file becomes the S3 state. A remote state updated later than
 * the local one is not overwritten without --force; the write is conditional on the remote
 * state as read (If-Match), so a run that wrote meanwhile is never overwritten either.
 */
export async function statePushCommand(
  io: Io,
  opts: StateMoveOptions,
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const { config, local, s3, release } = await bothStates(io, cmd.optsWithGlobals(), 'state push');
  try {
    const from = await read(local, config.stack, config.region);
    if (!from) {
      throw new CloudmartError('USAGE', `There is no local state file ${local.path} to push`, {
        exitCode: 2,
        hint: 'Pass --state <file> to name it, or "cloudmart state pull" to fetch the S3 state instead.',
      });
    }
    // Read last: the S3 backend's next write is conditional on exactly what this read saw.
    const to = await read(s3, config.stack, config.region);
    if (to?.text === from.text) {
      io.err(
        `${s3.path} already holds exactly ${local.path} (${summary(from.state)}): nothing written.`,
      );
      return 0;
    }
    if (to && Date.parse(to.state.updatedAt) > Date.parse(from.state.updatedAt) && !opts.force) {
      throw new CloudmartError(
        'STATE_CONFLICT',
        `${s3.path} is newer than ${local.path} (S3: ${summary(to.state)}; local: ${summary(from.state)}): not overwriting it`,
        {
          hint: 'Someone ran cloudmart on the S3 state since: "cloudmart state pull" fetches it. Pass --force to replace it anyway (the bucket keeps the replaced version).',
        },
      );
    }
    await s3.backend.write(from.text);
    io.err(
      `Pushed ${local.path} (${summary(from.state)}) to ${s3.path}${to ? `, replacing a state with ${summary(to.state)} (the bucket keeps that version)` : ''}.`,
    );
    io.err(
      `The local file is left as it was. Runs with this config use ${s3.path} from now on${config.state?.backend === 's3' ? '' : ' only when given --state ' + s3.path + ' (add the state: block to the config to make it the default)'}.`,
    );
    return 0;
  } finally {
    await release();
  }
}

/**
 * `state pull`: the S3 state becomes the local state file (written atomically). A local state
 * updated later than the S3 one is not overwritten without --force.
 */
export async function statePullCommand(
  io: Io,
  opts: StateMoveOptions,
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const { config, local, s3, release } = await bothStates(io, cmd.optsWithGlobals(), 'state pull');
  try {
    const from = await read(s3, config.stack, config.region);
    if (!from) {
      throw new CloudmartError('USAGE', `There is no state at ${s3.path} to pull`, {
        exitCode: 2,
        hint: '"cloudmart state push" puts a local state there; "cloudmart up" starts one.',
      });
    }
    const to = await read(local, config.stack, config.region);
    if (to?.text === from.text) {
      io.err(
        `${local.path} already holds exactly ${s3.path} (${summary(from.state)}): nothing written.`,
      );
      return 0;
    }
    if (to && Date.parse(to.state.updatedAt) > Date.parse(from.state.updatedAt) && !opts.force) {
      throw new CloudmartError(
        'STATE_CONFLICT',
        `${local.path} is newer than ${s3.path} (local: ${summary(to.state)}; S3: ${summary(from.state)}): not overwriting it`,
        {
          hint: '"cloudmart state push" sends the local one to S3 instead; pass --force to replace the local file anyway.',
        },
      );
    }
    await local.backend.write(from.text);
    io.err(
      `Pulled ${s3.path} (${summary(from.state)}) into ${local.path}${to ? `, replacing a local state with ${summary(to.state)}` : ''}.`,
    );
    io.err(
      `Runs with --state ${local.path} use this copy; runs with the config's state: block keep using ${s3.path}.`,
    );
    return 0;
  } finally {
    await release();
  }
}
