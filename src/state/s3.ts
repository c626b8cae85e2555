import { randomBytes } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import { awsErrorName, explainAwsError } from '../aws/errors.js';
import { CloudmartError } from '../errors.js';
import { realSleep } from '../sleep.js';
import {
  forceUnlockHint,
  heldError,
  isStale,
  parseLock,
  type LockInfo,
  type LockOptions,
  type StateBackend,
} from './store.js';

/** Where a remote state lives: `s3://bucket/key` in `region`. Its lock is `<key>.lock`. */
export interface S3StateLocation {
  bucket: string;
  key: string;
  region: string;
}

export const LOCK_SUFFIX = '.lock';

/** `s3://bucket/key` → bucket and key, or undefined when it is not such a URL. */
export function parseS3Url(url: string): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(url);
  return m ? { bucket: m[1]!, key: m[2]! } : undefined;
}

export function s3Url(where: { bucket: string; key: string }): string {
  return `s3://${where.bucket}/${where.key}`;
}

/**
 * The IAM actions the backend sends, on the state object and its lock (plus ListBucket on the
 * bucket): GetObject reads (and S3 requires it for If-Match writes and deletes), PutObject
 * writes the state and creates or takes over the lock, DeleteObject releases it, ListBucket
 * makes a missing object a 404 instead of a 403.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
 */
export const S3_STATE_OBJECT_ACTIONS = ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'];
export const S3_STATE_BUCKET_ACTIONS = ['s3:ListBucket'];

/** How many times a write or the lock is tried again after S3's 409 ConditionalRequestConflict. */
const CONFLICT_RETRIES = 4;
/** How many rounds lock() makes while the lock changes under it (released, taken over). */
const LOCK_ROUNDS = 20;

const sdk = () => import('@aws-sdk/client-s3');

/**
 * The region S3 says the bucket is in, when it refused a request sent to another region: a 301
 * (PermanentRedirect; for a HEAD, a 301 without a body) or, in regions opened since March 2019,
 * a 400, both with the header x-amz-bucket-region.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/Redirects.html
 */
export function redirectRegion(e: unknown): string | undefined {
  const x = e as {
    $metadata?: { httpStatusCode?: number };
    $response?: { headers?: Record<string, string | undefined> };
  } | null;
  const status = x?.$metadata?.httpStatusCode;
  if (status !== 301 && status !== 400) return undefined;
  const region = x?.$response?.headers?.['x-amz-bucket-region'];
  return typeof region === 'string' && region !== '' ? region : undefined;
}

type PutOutcome = { etag: string } | 'exists' | 'changed' | 'missing';

/**
 * The state as one S3 object and its lock as another, both written with S3's conditional
 * writes, so no second service (DynamoDB) is needed:
 * - the lock is created with If-None-Match "*": one run gets it, every other gets 412 and is
 *   refused with the holder's user, host, command and start time;
 * - every state write is a PutObject with If-Match: the ETag of what this run last read or
 *   wrote (If-None-Match "*" for the first): a run holding a stale copy gets 412 and stops; it
 *   never overwrites;
 * - a stale lock (its process is dead in this machine's pid space, see machine.ts) or --force-unlock replaces the lock with
 *   If-Match on the lock's ETag, so of two runs taking over the same lock only one wins;
 * - a bucket in another region than the configured one is followed there (S3 names it in its
 *   301 PermanentRedirect), and the run says so;
 * - unlock deletes the lock with If-Match on our lock's ETag (conditional deletes work in
 *   general purpose buckets: https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html),
 *   so a lock someone took over meanwhile stays.
 * S3 answers 409 ConditionalRequestConflict when two conditional writes to one key overlap and
 * asks for a retry; the retry then meets the other write (412) or goes through.
 */
export class S3Backend implements StateBackend {
  readonly location: string;
  readonly lockLocation: string;
  /** ETag of the state as last read or written; null when there was none. */
  private etag: string | null = null;
  private lockEtag: string | undefined;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly onRegion: ((actual: string, configured: string) => void) | undefined;
  /** The bucket's region: the configured one until S3 redirects us to another. */
  private bucketRegion: string;

  /**
   * `client(region)` gives the S3 client of a region: the configured one, or the bucket's own
   * once S3 answered that the bucket is elsewhere (`onRegion` is then told, once).
   */
  constructor(
    readonly where: S3StateLocation,
    private readonly client: (region: string) => Promise<S3Client>,
    options: {
      sleep?: (ms: number) => Promise<void>;
      onRegion?: (actual: string, configured: string) => void;
    } = {},
  ) {
    this.location = s3Url(where);
    this.lockLocation = `${this.location}${LOCK_SUFFIX}`;
    this.sleep = options.sleep ?? ((ms) => realSleep(ms));
    this.onRegion = options.onRegion;
    this.bucketRegion = where.region;
  }

  /** The region the bucket is in, as far as this run knows. */
  get region(): string {
    return this.bucketRegion;
  }

  private get lockKey(): string {
    return `${this.where.key}${LOCK_SUFFIX}`;
  }

  async read(): Promise<string | undefined> {
    const got = await this.get(this.where.key, 'Reading the state');
    this.etag = got?.etag ?? null;
    return got?.text;
  }

  /** The ETag of the state as this run last read or wrote it (null: there was none). */
  get lastEtag(): string | null {
    return this.etag;
  }

  async write(text: string): Promise<void> {
    const condition = this.etag === null ? { IfNoneMatch: '*' } : { IfMatch: this.etag };
    const outcome = await this.put(this.where.key, text, condition, 'Writing the state');
    if (typeof outcome === 'object') {
      this.etag = outcome.etag;
      return;
    }
    // The SDK retries a write whose answer was lost (a 500, a reset): the retry then meets this
    // very write (412). S3 holding exactly this text is that case, not another run's write.
    const now = await this.get(this.where.key, 'Reading the state');
    if (now?.text === text) {
      this.etag = now.etag;
      return;
    }
    throw this.conflict(outcome);
  }

  async lock(info: LockInfo, options: LockOptions): Promise<void> {
    const text = JSON.stringify({ ...info, nonce: randomBytes(8).toString('hex') });
    for (let round = 1; ; round++) {
      const created = await this.put(this.lockKey, text, { IfNoneMatch: '*' }, 'Taking the lock');
      if (typeof created === 'object') {
        this.lockEtag = created.etag;
        return;
      }
      const seen = await this.get(this.lockKey, 'Reading the lock');
      // Our own lock (its text has our nonce): a create or takeover whose answer was lost.
      if (seen?.text === text) {
        this.lockEtag = seen.etag;
        return;
      }
      if (seen) {
        const holder = parseLock(seen.text);
        const stale = holder !== undefined && isStale(holder);
        if (!stale && !options.force) {
          if (holder) throw heldError(this.location, holder, info.command);
          throw new CloudmartError(
            'STATE_LOCKED',
            `The lock ${this.lockLocation} is held, but its content is not a cloudmart lock`,
            {
              hint: `Look at the object; if no cloudmart run is using this state, ${forceUnlockHint(info.command)}.`,
            },
          );
        }
        // Replace exactly the lock judged stale (or forced): of two runs doing this at once,
        // the second's If-Match no longer matches.
        const taken = await this.put(
          this.lockKey,
          text,
          { IfMatch: seen.etag },
          'Taking over the lock',
        );
        if (typeof taken === 'object') {
          if (stale && holder && !options.force) options.onStale?.(holder);
          this.lockEtag = taken.etag;
          return;
        }
      }
      // Released or taken over between our calls: look again.
      if (round >= LOCK_ROUNDS) {
        throw new CloudmartError('STATE_LOCKED', `Could not take the lock ${this.lockLocation}`, {
          hint: 'Other runs are taking it at the same moment; run the command again.',
        });
      }
      await this.sleep(20 + Math.floor(Math.random() * 80));
    }
  }

  /**
   * The lock is forgotten only once S3 deleted it (or it is no longer ours): a delete that failed
   * (a 5xx the SDK's retries did not get through) can be tried again by calling unlock again.
   * S3's 409 ConditionalRequestConflict (a conditional request on the key at the same moment) is
   * retried, as for writes.
   */
  async unlock(): Promise<void> {
    const etag = this.lockEtag;
    if (etag === undefined) return;
    const { DeleteObjectCommand } = await sdk();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.send((s3) =>
          s3.send(
            new DeleteObjectCommand({
              Bucket: this.where.bucket,
              Key: this.lockKey,
              IfMatch: etag,
            }),
          ),
        );
        break;
      } catch (e) {
        const name = awsErrorName(e);
        // Taken over (--force-unlock) or removed meanwhile: nothing of ours to release.
        if (name === 'PreconditionFailed' || name === 'NoSuchKey') break;
        if (name === 'ConditionalRequestConflict' && attempt < CONFLICT_RETRIES) {
          await this.sleep(20 * attempt + Math.floor(Math.random() * 30));
          continue;
        }
        throw this.explain(e, 'Releasing the lock');
      }
    }
    if (this.lockEtag === etag) this.lockEtag = undefined;
  }

  /**
   * Nothing can reach S3 synchronously: a process that exits at once (a second Ctrl-C) leaves
   * its lock, which the next run on this machine takes over (its pid is gone) and a run on
   * another machine takes with --force-unlock.
   */
  unlockSync(): void {
    this.lockEtag = undefined;
  }

  private async get(
    key: string,
    doing: string,
  ): Promise<{ text: string; etag: string } | undefined> {
    const { GetObjectCommand } = await sdk();
    try {
      const out = await this.send((s3) =>
        s3.send(new GetObjectCommand({ Bucket: this.where.bucket, Key: key })),
      );
      const text = (await out.Body?.transformToString('utf8')) ?? '';
      return { text, etag: out.ETag ?? '' };
    } catch (e) {
      if (awsErrorName(e) === 'NoSuchKey') return undefined;
      throw this.explain(e, doing);
    }
  }

  /** A conditional PutObject; retried on 409 as S3 asks. */
  private async put(
    key: string,
    body: string,
    condition: { IfNoneMatch: string } | { IfMatch: string },
    doing: string,
  ): Promise<PutOutcome> {
    const { PutObjectCommand } = await sdk();
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.send((s3) =>
          s3.send(
            new PutObjectCommand({
              Bucket: this.where.bucket,
              Key: key,
              Body: body,
              ContentType: 'application/json',
              ...condition,
            }),
          ),
        );
        return { etag: out.ETag ?? '' };
      } catch (e) {
        const name = awsErrorName(e);
        if (name === 'ConditionalRequestConflict') {
          if (attempt < CONFLICT_RETRIES) {
            await this.sleep(20 * attempt + Math.floor(Math.random() * 30));
            continue;
          }
          return 'changed';
        }
        if (name === 'PreconditionFailed') return 'IfNoneMatch' in condition ? 'exists' : 'changed';
        if (name === 'NoSuchKey') return 'missing';
        throw this.explain(e, doing);
      }
    }
  }

  /**
   * Send one request to the bucket's region. When S3 answers that the bucket is in another
   * region, the request goes there again, and so does every later one of this run. (The SDK's
   * own followRegionRedirects would send each request to the wrong region first, and swaps the
   * client's region while the request is in flight.)
   */
  private async send<T>(call: (s3: S3Client) => Promise<T>): Promise<T> {
    const region = this.bucketRegion;
    try {
      return await call(await this.client(region));
    } catch (e) {
      const actual = redirectRegion(e);
      if (actual === undefined || actual === region) throw e;
      if (this.bucketRegion === region) {
        this.bucketRegion = actual;
        this.onRegion?.(actual, this.where.region);
      }
      return call(await this.client(actual));
    }
  }

  /** A write S3 refused because the state is no longer what this run read. */
  private conflict(outcome: 'exists' | 'changed' | 'missing'): CloudmartError {
    const what =
      outcome === 'missing'
        ? 'was deleted'
        : outcome === 'exists'
          ? 'was created by another run'
          : 'was changed by another run';
    return new CloudmartError(
      'STATE_CONFLICT',
      `The state ${this.location} ${what} since this run read it: S3 refused this run's write (conditional write, 412 Precondition Failed), so nothing was overwritten and this run's last change is not recorded`,
      {
        hint: 'Another run wrote it: one that took the lock with --force-unlock, or "cloudmart state push". Run "cloudmart status" to see the state as it is now, then run the command again: it starts from that state and finds what this run created by its tags.',
      },
    );
  }

  private explain(e: unknown, doing: string): CloudmartError {
    const name = awsErrorName(e);
    if (name === 'NoSuchBucket') {
      return new CloudmartError(
        'AWS_ERROR',
        `The state bucket ${this.where.bucket} does not exist (in ${this.where.region})`,
        {
          cause: e,
          hint: 'Create it with "cloudmart init --remote-state", or fix state.bucket in the config (or --state s3://bucket/key).',
        },
      );
    }
    const status = (e as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata
      ?.httpStatusCode;
    if (status === 301 || name === 'PermanentRedirect') {
      // A redirect without the bucket's region (an endpoint or proxy that drops the header).
      return new CloudmartError(
        'AWS_ERROR',
        `The state bucket ${this.where.bucket} is not in ${this.bucketRegion}: S3 answered 301 PermanentRedirect`,
        {
          cause: e,
          hint: `Find its region with "aws s3api get-bucket-location --bucket ${this.where.bucket}" and set it as region in the config's state: block (--state s3://… uses it too; without a state: block, the bucket must be in the stack's region).`,
        },
      );
    }
    return explainAwsError(
      e,
      `${doing} (${doing.includes('lock') ? this.lockLocation : this.location})`,
    );
  }
}
