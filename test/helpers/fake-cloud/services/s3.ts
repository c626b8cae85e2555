/* eslint-disable @typescript-eslint/no-unsafe-return -- responses are free-form SDK shapes (types.ts In) */
import type { In, Resource, ServiceModule } from '../types.js';
import { clone, md5, statements, tagMap } from '../util.js';
import type { World } from '../world.js';
import { date, usableKey } from './shared.js';

/**
 * S3: one global bucket namespace with a location per bucket. New buckets get what AWS gives
 * them since 2023 (all public access blocked, SSE-S3, BucketOwnerEnforced); object versions and
 * delete markers are kept so a versioned bucket must really be emptied before DeleteBucket.
 */

export const S3_BUCKET = 's3:bucket';

export function bucketByName(w: World, name: string): Resource | undefined {
  return w.find(S3_BUCKET, undefined, (b) => b.id === name)[0];
}

interface Version {
  versionId: string;
  body: string;
  size: number;
  etag: string;
  lastModified: number;
  contentType?: string;
  cacheControl?: string;
  metadata: Record<string, string>;
  deleteMarker?: boolean;
}

function objectsOf(b: Resource): Record<string, Version[]> {
  return (b.data.objects ??= {}) as Record<string, Version[]>;
}

function newVersionId(w: World): string {
  return w.rng.chars(32, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._');
}

function toBuffer(body: unknown): Buffer {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  return Buffer.from(JSON.stringify(body) ?? '', 'utf8');
}

/** Store an object version as S3 would (a new version when versioning is on). */
export function writeObject(
  w: World,
  bucket: Resource,
  key: string,
  body: string | Uint8Array,
  extra: Partial<Pick<Version, 'contentType' | 'cacheControl' | 'metadata'>> = {},
): Version {
  const buf = toBuffer(body);
  const objects = objectsOf(bucket);
  const versioned = bucket.data.versioning === 'Enabled';
  const v: Version = {
    versionId: versioned ? newVersionId(w) : 'null',
    body: buf.toString('base64'),
    size: buf.length,
    etag: `"${md5(buf)}"`,
    lastModified: w.now(),
    metadata: extra.metadata ?? {},
    ...(extra.contentType ? { contentType: extra.contentType } : {}),
    ...(extra.cacheControl ? { cacheControl: extra.cacheControl } : {}),
  };
  const list = objects[key] ?? [];
  objects[key] = versioned ? [...list, v] : [...list.filter((x) => x.versionId !== 'null'), v];
  return v;
}

/** Is this bucket policy public in S3's sense (an Allow to everyone without a narrowing condition)? */
export function policyIsPublic(doc: In): boolean {
  const narrowing =
    /^(aws:sourcearn|aws:sourceaccount|aws:sourcevpce?|aws:principalorgid|aws:principalaccount|aws:sourceowner|s3:dataaccesspointaccount)$/i;
  return statements(doc).some((s) => {
    if (s.Effect !== 'Allow') return false;
    const p = s.Principal;
    const everyone = p === '*' || (p && typeof p === 'object' && [p.AWS].flat().includes('*'));
    if (!everyone) return false;
    const keys = Object.values(
      (s.Condition ?? {}) as Record<string, Record<string, unknown>>,
    ).flatMap((c) => Object.keys(c));
    return !keys.some((k) => narrowing.test(k));
  });
}

export function s3Service(w: World): ServiceModule {
  const err = (code: string, message: string, status = 400) => w.error('s3', code, message, status);

  /** The bucket, checked against the client's region and the expected owner. */
  function bucket(region: string, input: In, head = false): Resource {
    const name = input.Bucket as string;
    const b = bucketByName(w, name);
    const reserved = ((w.settings.global?.foreignBuckets ?? []) as string[]).includes(name);
    if (reserved)
      throw head ? err('Forbidden', 'Forbidden', 403) : err('AccessDenied', 'Access Denied', 403);
    if (!b)
      throw head
        ? err('NotFound', 'Not Found', 404)
        : err('NoSuchBucket', 'The specified bucket does not exist', 404);
    if (input.ExpectedBucketOwner && input.ExpectedBucketOwner !== w.account) {
      throw head ? err('Forbidden', 'Forbidden', 403) : err('AccessDenied', 'Access Denied', 403);
    }
    if (b.region !== region) {
      // S3 answers a request sent to another region's endpoint with 301 and the bucket's region
      // in the header x-amz-bucket-region; a HEAD's 301 has no body, so the SDK has no error
      // code to name it by ("Unknown"). https://docs.aws.amazon.com/AmazonS3/latest/API/Redirects.html
      const e = head
        ? err('Unknown', 'UnknownError', 301)
        : err(
            'PermanentRedirect',
            'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
            301,
          );
      // The SDK hangs the HTTP response on the error, not enumerable.
      Object.defineProperty(e, '$response', {
        value: { statusCode: 301, headers: { 'x-amz-bucket-region': b.region }, body: undefined },
        enumerable: false,
      });
      throw e;
    }
    return b;
  }

  function flatVersions(b: Resource): Array<{ key: string; v: Version; latest: boolean }> {
    const out: Array<{ key: string; v: Version; latest: boolean }> = [];
    for (const key of Object.keys(objectsOf(b)).sort()) {
      const list = objectsOf(b)[key]!;
      for (let i = list.length - 1; i >= 0; i--)
        out.push({ key, v: list[i]!, latest: i === list.length - 1 });
    }
    return out;
  }

  const handlers: ServiceModule['handlers'] = {
    CreateBucket(ctx, input) {
      const name = input.Bucket as string;
      if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) || name.includes('..')) {
        throw err('InvalidBucketName', 'The specified bucket is not valid.');
      }
      const constraint = input.CreateBucketConfiguration?.LocationConstraint as string | undefined;
      if (ctx.region === 'us-east-1' && constraint === 'us-east-1') {
        throw err('InvalidLocationConstraint', 'The specified location-constraint is not valid');
      }
      if (ctx.region !== 'us-east-1' && constraint !== ctx.region) {
        throw err(
          'IllegalLocationConstraintException',
          `The ${constraint ?? 'unspecified'} location constraint is incompatible for the region specific endpoint this request was sent to.`,
        );
      }
      if (((w.settings.global?.foreignBuckets ?? []) as string[]).includes(name)) {
        throw err(
          'BucketAlreadyExists',
          'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
          409,
        );
      }
      const existing = bucketByName(w, name);
      if (existing) {
        // us-east-1 answers 200 to a bucket you already own there (legacy behaviour).
        if (existing.region === 'us-east-1' && ctx.region === 'us-east-1')
          return { Location: `/${name}` };
        throw err(
          'BucketAlreadyOwnedByYou',
          'Your previous request to create the named bucket succeeded and you already own it.',
          409,
        );
      }
      const ownership = (input.ObjectOwnership as string | undefined) ?? 'BucketOwnerEnforced';
      w.add({
        service: 's3',
        type: S3_BUCKET,
        region: ctx.region,
        id: name,
        arn: `arn:aws:s3:::${name}`,
        name,
        tags: tagMap(input.CreateBucketConfiguration?.Tags),
        state: 'available',
        data: {
          publicAccessBlock: {
            BlockPublicAcls: true,
            IgnorePublicAcls: true,
            BlockPublicPolicy: true,
            RestrictPublicBuckets: true,
          },
          encryption: {
            Rules: [
              {
                ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' },
                BucketKeyEnabled: false,
              },
            ],
          },
          ownership,
          objects: {},
        },
      });
      return {
        Location: ctx.region === 'us-east-1' ? `/${name}` : `http://${name}.s3.amazonaws.com/`,
        BucketArn: `arn:aws:s3:::${name}`,
      };
    },
    HeadBucket(ctx, input) {
      const b = bucket(ctx.region, input, true);
      return { BucketRegion: b.region, AccessPointAlias: false };
    },
    DeleteBucket(ctx, input) {
      const b = bucket(ctx.region, input);
      if (Object.values(objectsOf(b)).some((list) => list.length > 0)) {
        throw err(
          'BucketNotEmpty',
          'The bucket you tried to delete is not empty. You must delete all versions in the bucket.',
          409,
        );
      }
      w.remove(b);
      return {};
    },
    GetBucketTagging(ctx, input) {
      const b = bucket(ctx.region, input);
      if (Object.keys(b.tags).length === 0)
        throw err('NoSuchTagSet', 'The TagSet does not exist', 404);
      return { TagSet: Object.entries(b.tags).map(([Key, Value]) => ({ Key, Value })) };
    },
    PutBucketTagging(ctx, input) {
      const b = bucket(ctx.region, input);
      b.tags = tagMap(input.Tagging?.TagSet);
      return {};
    },
    DeleteBucketTagging(ctx, input) {
      bucket(ctx.region, input).tags = {};
      return {};
    },
    GetPublicAccessBlock(ctx, input) {
      const b = bucket(ctx.region, input);
      if (!b.data.publicAccessBlock) {
        throw err(
          'NoSuchPublicAccessBlockConfiguration',
          'The public access block configuration was not found',
          404,
        );
      }
      return { PublicAccessBlockConfiguration: clone(b.data.publicAccessBlock) };
    },
    PutPublicAccessBlock(ctx, input) {
      const b = bucket(ctx.region, input);
      const c = input.PublicAccessBlockConfiguration ?? {};
      b.data.publicAccessBlock = {
        BlockPublicAcls: c.BlockPublicAcls === true,
        IgnorePublicAcls: c.IgnorePublicAcls === true,
        BlockPublicPolicy: c.BlockPublicPolicy === true,
        RestrictPublicBuckets: c.RestrictPublicBuckets === true,
      };
      return {};
    },
    DeletePublicAccessBlock(ctx, input) {
      delete bucket(ctx.region, input).data.publicAccessBlock;
      return {};
    },
    GetBucketEncryption(ctx, input) {
      const b = bucket(ctx.region, input);
      return { ServerSideEncryptionConfiguration: clone(b.data.encryption) };
    },
    PutBucketEncryption(ctx, input) {
      const b = bucket(ctx.region, input);
      const rules = (input.ServerSideEncryptionConfiguration?.Rules ?? []) as In[];
      for (const r of rules) {
        const alg = r.ApplyServerSideEncryptionByDefault?.SSEAlgorithm as string | undefined;
        if (!['AES256', 'aws:kms', 'aws:kms:dsse'].includes(alg ?? '')) {
          throw err(
            'MalformedXML',
            'The XML you provided was not well-formed or did not validate against our published schema',
          );
        }
        const key = r.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID as string | undefined;
        if (alg !== 'AES256' && key && !usableKey(w, b.region, key)) {
          throw err('KMS.NotFoundException', `Invalid keyId ${key}`);
        }
      }
      b.data.encryption = { Rules: clone(rules) };
      return {};
    },
    GetBucketOwnershipControls(ctx, input) {
      const b = bucket(ctx.region, input);
      if (!b.data.ownership)
        throw err(
          'OwnershipControlsNotFoundError',
          'The bucket ownership controls were not found',
          404,
        );
      return { OwnershipControls: { Rules: [{ ObjectOwnership: b.data.ownership }] } };
    },
    PutBucketOwnershipControls(ctx, input) {
      const b = bucket(ctx.region, input);
      b.data.ownership = input.OwnershipControls?.Rules?.[0]?.ObjectOwnership;
      return {};
    },
    GetBucketVersioning(ctx, input) {
      const b = bucket(ctx.region, input);
      return b.data.versioning ? { Status: b.data.versioning } : {};
    },
    PutBucketVersioning(ctx, input) {
      const b = bucket(ctx.region, input);
      const status = input.VersioningConfiguration?.Status as string | undefined;
      if (status !== 'Enabled' && status !== 'Suspended')
        throw err('MalformedXML', 'The XML you provided was not well-formed');
      b.data.versioning = status;
      return {};
    },
    GetBucketPolicy(ctx, input) {
      const b = bucket(ctx.region, input);
      if (!b.data.policy) throw err('NoSuchBucketPolicy', 'The bucket policy does not exist', 404);
      return { Policy: JSON.stringify(b.data.policy) };
    },
    PutBucketPolicy(ctx, input) {
      const b = bucket(ctx.region, input);
      let doc: In;
      try {
        doc = JSON.parse(input.Policy as string);
      } catch {
        throw err('MalformedPolicy', "Policies must be valid JSON and the first byte must be '{'");
      }
      if (statements(doc).length === 0)
        throw err('MalformedPolicy', 'Missing required field Statement');
      if (b.data.publicAccessBlock?.BlockPublicPolicy && policyIsPublic(doc)) {
        throw err(
          'AccessDenied',
          'User is not authorized to perform: s3:PutBucketPolicy because public policies are blocked by the BlockPublicPolicy block public access setting.',
          403,
        );
      }
      b.data.policy = doc;
      return {};
    },
    DeleteBucketPolicy(ctx, input) {
      delete bucket(ctx.region, input).data.policy;
      return {};
    },
    GetBucketPolicyStatus(ctx, input) {
      const b = bucket(ctx.region, input);
      if (!b.data.policy) throw err('NoSuchBucketPolicy', 'The bucket policy does not exist', 404);
      return { PolicyStatus: { IsPublic: policyIsPublic(b.data.policy) } };
    },
    GetBucketLifecycleConfiguration(ctx, input) {
      const b = bucket(ctx.region, input);
      if (!b.data.lifecycle)
        throw err(
          'NoSuchLifecycleConfiguration',
          'The lifecycle configuration does not exist',
          404,
        );
      return {
        Rules: clone(b.data.lifecycle),
        TransitionDefaultMinimumObjectSize: 'all_storage_classes_128K',
      };
    },
    PutBucketLifecycleConfiguration(ctx, input) {
      const b = bucket(ctx.region, input);
      const rules = (input.LifecycleConfiguration?.Rules ?? []) as In[];
      const ids = new Set<string>();
      for (const r of rules) {
        if (r.Status !== 'Enabled' && r.Status !== 'Disabled')
          throw err('MalformedXML', 'The XML you provided was not well-formed');
        if (r.ID) {
          if (ids.has(r.ID as string))
            throw err(
              'InvalidArgument',
              'Rule ID must be unique. Found same ID for more than one rule',
            );
          ids.add(r.ID as string);
        }
      }
      b.data.lifecycle = clone(rules);
      return {};
    },
    DeleteBucketLifecycle(ctx, input) {
      delete bucket(ctx.region, input).data.lifecycle;
      return {};
    },
    PutObject(ctx, input) {
      const b = bucket(ctx.region, input);
      checkWritePrecondition(b, input.Key as string, input);
      const v = writeObject(w, b, input.Key as string, input.Body as string, {
        ...(input.ContentType ? { contentType: input.ContentType as string } : {}),
        ...(input.CacheControl ? { cacheControl: input.CacheControl as string } : {}),
        metadata: (input.Metadata ?? {}) as Record<string, string>,
      });
      return {
        ETag: v.etag,
        ...(v.versionId !== 'null' ? { VersionId: v.versionId } : {}),
        ServerSideEncryption: 'AES256',
      };
    },
    GetObject(ctx, input) {
      const b = bucket(ctx.region, input);
      const list = objectsOf(b)[input.Key as string] ?? [];
      const v = input.VersionId
        ? list.find((x) => x.versionId === input.VersionId)
        : list[list.length - 1];
      if (!v || v.deleteMarker) throw err('NoSuchKey', 'The specified key does not exist.', 404);
      // The body as bytes; FakeCloud hands it to the caller as the SDK's stream (transformToString).
      return {
        Body: Buffer.from(v.body, 'base64'),
        ETag: v.etag,
        ContentLength: v.size,
        ...(v.contentType ? { ContentType: v.contentType } : {}),
        LastModified: date(v.lastModified),
        Metadata: clone(v.metadata),
        ...(v.versionId !== 'null' ? { VersionId: v.versionId } : {}),
        ServerSideEncryption: 'AES256',
      };
    },
    HeadObject(ctx, input) {
      const b = bucket(ctx.region, input, true);
      const list = objectsOf(b)[input.Key as string] ?? [];
      const v = input.VersionId
        ? list.find((x) => x.versionId === input.VersionId)
        : list[list.length - 1];
      if (!v || v.deleteMarker) throw err('NotFound', 'Not Found', 404);
      return {
        ETag: v.etag,
        ContentLength: v.size,
        ...(v.contentType ? { ContentType: v.contentType } : {}),
        ...(v.cacheControl ? { CacheControl: v.cacheControl } : {}),
        LastModified: date(v.lastModified),
        Metadata: clone(v.metadata),
        ...(v.versionId !== 'null' ? { VersionId: v.versionId } : {}),
        ServerSideEncryption: 'AES256',
      };
    },
    ListObjectVersions(ctx, input) {
      const b = bucket(ctx.region, input);
      const prefix = (input.Prefix as string | undefined) ?? '';
      let all = flatVersions(b).filter((x) => x.key.startsWith(prefix));
      if (input.KeyMarker !== undefined) {
        const km = input.KeyMarker as string;
        const vm = input.VersionIdMarker as string | undefined;
        const i = vm ? all.findIndex((x) => x.key === km && x.v.versionId === vm) : -1;
        all = i >= 0 ? all.slice(i + 1) : all.filter((x) => x.key > km);
      }
      const max = Math.min((input.MaxKeys as number | undefined) ?? 1000, 1000);
      const items = all.slice(0, max);
      const truncated = all.length > items.length;
      const last = items[items.length - 1];
      const entry = (x: { key: string; v: Version; latest: boolean }) => ({
        Key: x.key,
        VersionId: x.v.versionId,
        IsLatest: x.latest,
        LastModified: date(x.v.lastModified),
        Owner: { ID: w.account },
        ...(x.v.deleteMarker ? {} : { ETag: x.v.etag, Size: x.v.size, StorageClass: 'STANDARD' }),
      });
      return {
        Name: b.id,
        Prefix: prefix,
        MaxKeys: max,
        IsTruncated: truncated,
        Versions: items.filter((x) => !x.v.deleteMarker).map(entry),
        DeleteMarkers: items.filter((x) => x.v.deleteMarker).map(entry),
        ...(truncated && last
          ? { NextKeyMarker: last.key, NextVersionIdMarker: last.v.versionId }
          : {}),
      };
    },
    ListObjectsV2(ctx, input) {
      const b = bucket(ctx.region, input);
      const prefix = (input.Prefix as string | undefined) ?? '';
      const keys = Object.keys(objectsOf(b))
        .filter((k) => k.startsWith(prefix))
        .sort()
        .filter((k) => {
          const list = objectsOf(b)[k]!;
          return list.length > 0 && !list[list.length - 1]!.deleteMarker;
        });
      return {
        Name: b.id,
        KeyCount: keys.length,
        IsTruncated: false,
        Contents: keys.map((k) => {
          const v = objectsOf(b)[k]!.at(-1)!;
          return {
            Key: k,
            ETag: v.etag,
            Size: v.size,
            LastModified: date(v.lastModified),
            StorageClass: 'STANDARD',
          };
        }),
      };
    },
    DeleteObject(ctx, input) {
      const b = bucket(ctx.region, input);
      if (input.IfMatch !== undefined) {
        // Conditional deletes in general purpose buckets (since September 2025): If-Match is
        // checked against the current version only; "*" matches any existing object.
        // https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html
        const current = currentVersion(b, input.Key as string);
        if (!current) throw err('NoSuchKey', 'The specified key does not exist.', 404);
        if (input.IfMatch !== '*' && input.IfMatch !== current.etag)
          throw preconditionFailed('If-Match');
      }
      // DeleteObject names the delete marker it made VersionId (DeleteObjects: DeleteMarkerVersionId).
      const { DeleteMarkerVersionId, ...out } = deleteOne(
        b,
        input.Key as string,
        input.VersionId as string | undefined,
      );
      return DeleteMarkerVersionId ? { ...out, VersionId: DeleteMarkerVersionId } : out;
    },
    DeleteObjects(ctx, input) {
      const b = bucket(ctx.region, input);
      const objects = (input.Delete?.Objects ?? []) as In[];
      if (objects.length > 1000)
        throw err('MalformedXML', 'The XML you provided was not well-formed');
      const deleted = objects.map((o) => ({
        Key: o.Key,
        ...deleteOne(b, o.Key as string, o.VersionId as string | undefined),
      }));
      return { ...(input.Delete?.Quiet ? {} : { Deleted: deleted }), Errors: [] };
    },
  };

  function currentVersion(b: Resource, key: string): Version | undefined {
    const list = objectsOf(b)[key] ?? [];
    const v = list[list.length - 1];
    return v && !v.deleteMarker ? v : undefined;
  }

  function preconditionFailed(condition: string): Error {
    const e = err(
      'PreconditionFailed',
      'At least one of the pre-conditions you specified did not hold',
      412,
    );
    return Object.assign(e, { Condition: condition });
  }

  /**
   * S3's conditional writes, as AWS documents them
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html and
   * PutObject's If-Match / If-None-Match in the API reference):
   * - If-None-Match "*" fails with 412 PreconditionFailed when the key has a current version
   *   (a delete marker as the current version counts as no object);
   * - If-Match fails with 412 when the current version's ETag differs, and with 404 NoSuchKey
   *   when there is no object under the key;
   * - "If a conflicting operation occurs during the upload S3 returns a 409
   *   ConditionalRequestConflict" and the caller should retry. Here two conditional writes are
   *   concurrent when the second arrives at the same simulated instant as the first and was
   *   made against the same earlier object (the same ETag, or no object): the second gets 409
   *   once; its retry sees the first write and gets 412 (or succeeds if it now matches).
   */
  function checkWritePrecondition(b: Resource, key: string, input: In): void {
    const ifNoneMatch = input.IfNoneMatch as string | undefined;
    const ifMatch = input.IfMatch as string | undefined;
    if (ifNoneMatch === undefined && ifMatch === undefined) return;
    const current = currentVersion(b, key);
    const conflicts = (b.data.conditionalWrites ??= {}) as Record<
      string,
      { at: number; before: string | null }
    >;
    const last = conflicts[key];
    const base = ifMatch ?? null;
    const concurrent =
      last !== undefined &&
      last.at === w.now() &&
      (ifNoneMatch !== undefined ? last.before === null : last.before === base);
    // Which precondition fails, if one does (a missing key fails If-Match with 404 at once).
    let failed: 'If-None-Match' | 'If-Match' | undefined;
    if (ifNoneMatch !== undefined && current) failed = 'If-None-Match';
    else if (ifMatch !== undefined) {
      if (!current) throw err('NoSuchKey', 'The specified key does not exist.', 404);
      if (ifMatch !== current.etag) failed = 'If-Match';
    }
    if (failed && concurrent) {
      delete conflicts[key];
      throw err(
        'ConditionalRequestConflict',
        'A conflicting conditional operation is currently in progress against this resource. Please try again.',
        409,
      );
    }
    if (failed) throw preconditionFailed(failed);
    conflicts[key] = { at: w.now(), before: current?.etag ?? null };
  }

  function deleteOne(b: Resource, key: string, versionId: string | undefined): In {
    const objects = objectsOf(b);
    const list = objects[key] ?? [];
    if (versionId) {
      const v = list.find((x) => x.versionId === versionId);
      objects[key] = list.filter((x) => x.versionId !== versionId);
      if (objects[key].length === 0) delete objects[key];
      return { VersionId: versionId, ...(v?.deleteMarker ? { DeleteMarker: true } : {}) };
    }
    if (b.data.versioning === 'Enabled') {
      const marker: Version = {
        versionId: newVersionId(w),
        body: '',
        size: 0,
        etag: '',
        lastModified: w.now(),
        metadata: {},
        deleteMarker: true,
      };
      objects[key] = [...list, marker];
      return { DeleteMarker: true, DeleteMarkerVersionId: marker.versionId };
    }
    objects[key] = list.filter((x) => x.versionId !== 'null');
    if (objects[key].length === 0) delete objects[key];
    return {};
  }

  return { service: 's3', handlers };
}
