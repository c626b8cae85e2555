import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { ensureSecureBucket, httpsOnlyStatement, putBucketPolicyIfChanged } from '../../aws/s3.js';
import type { Config } from '../../config/schema.js';
import type { StepContext } from '../../engine/step.js';
import { CloudmartError } from '../../errors.js';
import { realSleep } from '../../sleep.js';
import { names } from '../../steps/names.js';
import type { Io } from '../io.js';
import { writeOutputFile } from '../output.js';
import { awsFactory, defaultStateKey, type GlobalOptions } from '../runtime.js';

/**
 * The tag that marks the state bucket as this stack's state: deliberately NOT cloudmart:stack,
 * which is what destroy's steps and its sweep look for, so neither ever deletes or reports it.
 */
export const STATE_OF_TAG = 'cloudmart:state-of';

/** `<stack>-state-<account>-<region>`: global and unique, as the stack's other buckets. */
export function defaultStateBucket(stack: string, account: string, region: string): string {
  return names.bucket(`${stack}-state`, account, region);
}

/**
 * `init --remote-state`: create (or converge) the state bucket the careful way — versioning on
 * (every state version kept), SSE-S3 default encryption, all four public-access blocks, a
 * policy denying anything but HTTPS, tagged as the stack's state but not as part of the stack
 * — then write the `state:` block into the config. Run again, it changes nothing.
 */
export async function setUpRemoteState(
  io: Io,
  g: GlobalOptions,
  config: Config,
  file: string,
  options: { bucket?: string },
): Promise<number> {
  const aws = awsFactory(g, config);
  try {
    const region =
      config.state?.backend === 's3' ? (config.state.region ?? config.region) : config.region;
    const account = await aws.accountId();
    const bucket =
      options.bucket ??
      (config.state?.backend === 's3'
        ? config.state.bucket
        : defaultStateBucket(config.stack, account, region));
    const key =
      config.state?.backend === 's3'
        ? (config.state.key ?? defaultStateKey(config.stack))
        : defaultStateKey(config.stack);
    const tags = (name: string) => ({ ...config.tags, Name: name, [STATE_OF_TAG]: config.stack });
    const controller = new AbortController();
    const ctx = {
      config,
      aws,
      stepId: 'init.remote-state',
      tags: {
        map: (name: string) => tags(name),
        list: (name: string) => Object.entries(tags(name)).map(([Key, Value]) => ({ Key, Value })),
      },
      progress: (m: string) => io.err(`  ${m}`),
      warn: (m: string) => io.err(`! ${m}`),
      signal: controller.signal,
      sleep: (ms: number) => realSleep(ms, controller.signal),
      now: () => Date.now(),
      previous: undefined,
      outputs: () => {
        throw new CloudmartError('INTERNAL', 'init --remote-state reads no step outputs');
      },
      maybeOutputs: () => undefined,
    } as StepContext;
    io.err(`State bucket ${bucket} in ${region}:`);
    const { created } = await ensureSecureBucket(ctx, bucket, {
      name: bucket,
      versioning: true,
      region,
    });
    await putBucketPolicyIfChanged(
      ctx,
      bucket,
      { Version: '2012-10-17', Statement: [httpsOnlyStatement(bucket, aws.partition())] },
      region,
    );
    io.err(
      `${created ? 'Created' : 'Checked'} s3://${bucket}: versioning on, SSE-S3 default encryption, public access blocked, HTTPS only, tagged ${STATE_OF_TAG}=${config.stack} (not cloudmart:stack: destroy never deletes it and its sweep does not list it).`,
    );
    await writeStateBlock(io, file, { backend: 's3', bucket, key, region });
    io.err(
      `The state of stack "${config.stack}" is s3://${bucket}/${key} (lock: ${key}.lock). Teammates use the same config. A local state from before: "cloudmart state push" moves it there. Next: cloudmart plan`,
    );
    return 0;
  } finally {
    await aws.destroy();
  }
}

/** Add (or keep) the `state:` block in the config file, keeping its comments and layout. */
async function writeStateBlock(
  io: Io,
  file: string,
  block: { backend: 's3'; bucket: string; key: string; region: string },
): Promise<void> {
  const text = await readFile(file, 'utf8');
  const doc = parseDocument(text);
  const current = doc.get('state') as { toJSON?: () => unknown } | undefined;
  const now = current?.toJSON?.() as Record<string, string | undefined> | undefined;
  if (now && JSON.stringify(now) === JSON.stringify(block)) {
    io.err(`${file} already has this state: block.`);
    return;
  }
  if (
    now &&
    now.backend === 's3' &&
    (now.bucket !== block.bucket || (now.key ?? block.key) !== block.key)
  ) {
    throw new CloudmartError(
      'USAGE',
      `${file} already names another S3 state (s3://${now.bucket ?? ''}/${now.key ?? block.key}); not replacing it`,
      { exitCode: 2, hint: 'Edit or remove the state: block first if the state should move.' },
    );
  }
  doc.set('state', doc.createNode(block));
  await writeOutputFile(file, doc.toString(), 'the config');
  io.err(`Wrote the state: block into ${file}.`);
}
