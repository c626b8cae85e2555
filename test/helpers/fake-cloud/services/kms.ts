import type { In, Resource, ServiceModule } from '../types.js';
import { statements } from '../util.js';
import type { World } from '../world.js';
import { date, findKey } from './shared.js';

/**
 * KMS: customer-managed keys (Enabled / Disabled / PendingDeletion, never deleted at once),
 * aliases, rotation and key policies. A policy naming an IAM role that does not exist yet (or
 * was created within the IAM propagation delay) is refused as KMS refuses it.
 */

export const KMS_KEY = 'kms:key';
export const KMS_ALIAS = 'kms:alias';

export function kmsService(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('kms', code, message);

  function key(region: string, ref: string | undefined): Resource {
    const k = findKey(w, region, ref);
    if (!k) {
      if (ref?.includes('alias/'))
        throw err(
          'NotFoundException',
          `Alias ${ref.startsWith('arn:') ? ref : w.arn('kms', region, ref)} is not found.`,
        );
      throw err(
        'NotFoundException',
        `Key '${ref?.startsWith('arn:') ? ref : w.arn('kms', region, `key/${ref ?? ''}`)}' does not exist`,
      );
    }
    return k;
  }

  function metadata(k: Resource): In {
    const d = k.data;
    return {
      AWSAccountId: w.account,
      KeyId: k.id,
      Arn: k.arn,
      CreationDate: date(k.createdAt),
      Enabled: k.state === 'Enabled',
      Description: d.description ?? '',
      KeyUsage: d.keyUsage,
      KeyState: k.state,
      ...(d.deletionDate
        ? { DeletionDate: date(d.deletionDate as number), PendingDeletionWindowInDays: d.window }
        : {}),
      Origin: d.origin,
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: d.keySpec,
      KeySpec: d.keySpec,
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      MultiRegion: d.multiRegion === true,
    };
  }

  /** Principals in a key policy must exist: roles of this account are looked up in IAM. */
  function checkPolicy(text: unknown): In {
    let doc: In;
    try {
      doc = JSON.parse(String(text));
    } catch {
      throw err('MalformedPolicyDocumentException', 'The policy is not valid JSON.');
    }
    for (const s of statements(doc)) {
      const aws = [s.Principal?.AWS].flat().filter(Boolean) as string[];
      for (const p of aws) {
        const m = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(p);
        if (!m || m[1] !== w.account) continue;
        const role = w.live('iam:role', 'us-east-1', m[2]!);
        if (!role || w.now() - role.createdAt < w.t('iamPropagation')) {
          throw err(
            'MalformedPolicyDocumentException',
            'Policy contains a statement with one or more invalid principals.',
          );
        }
      }
    }
    return doc;
  }

  function defaultPolicy(): In {
    return {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${w.account}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    };
  }

  const handlers: ServiceModule['handlers'] = {
    CreateKey(ctx, input) {
      const policy = input.Policy !== undefined ? checkPolicy(input.Policy) : defaultPolicy();
      const id = w.rng.uuid();
      const k = w.add({
        service: 'kms',
        type: KMS_KEY,
        region: ctx.region,
        id,
        arn: w.arn('kms', ctx.region, `key/${id}`),
        tags: Object.fromEntries(
          ((input.Tags ?? []) as In[]).map((t) => [t.TagKey as string, t.TagValue as string]),
        ),
        state: 'Enabled',
        data: {
          description: input.Description ?? '',
          keyUsage: input.KeyUsage ?? 'ENCRYPT_DECRYPT',
          keySpec: input.KeySpec ?? input.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT',
          origin: input.Origin ?? 'AWS_KMS',
          multiRegion: input.MultiRegion === true,
          policy,
          rotation: false,
        },
      });
      return { KeyMetadata: metadata(k) };
    },
    DescribeKey(ctx, input) {
      return { KeyMetadata: metadata(key(ctx.region, input.KeyId as string)) };
    },
    CreateAlias(ctx, input) {
      const name = input.AliasName as string;
      if (!/^alias\/[a-zA-Z0-9/_-]+$/.test(name) || name.startsWith('alias/aws/')) {
        throw err(
          'InvalidAliasNameException',
          `Alias must start with the prefix "alias/" and must not begin with "alias/aws/": ${name}`,
        );
      }
      if (w.live(KMS_ALIAS, ctx.region, name))
        throw err(
          'AlreadyExistsException',
          `An alias with the name ${w.arn('kms', ctx.region, name)} already exists`,
        );
      const k = key(ctx.region, input.TargetKeyId as string);
      if (k.state === 'PendingDeletion')
        throw err('KMSInvalidStateException', `${k.arn!} is pending deletion.`);
      w.add({
        service: 'kms',
        type: KMS_ALIAS,
        region: ctx.region,
        id: name,
        arn: w.arn('kms', ctx.region, name),
        name,
        state: 'available',
        owner: k.id,
        data: { targetKeyId: k.id },
      });
      return {};
    },
    DeleteAlias(ctx, input) {
      const a = w.live(KMS_ALIAS, ctx.region, input.AliasName as string);
      if (!a)
        throw err(
          'NotFoundException',
          `Alias ${w.arn('kms', ctx.region, String(input.AliasName))} is not found.`,
        );
      w.remove(a);
      return {};
    },
    ListAliases(ctx, input) {
      const list = w
        .find(KMS_ALIAS, ctx.region)
        .filter(
          (a) =>
            !input.KeyId ||
            a.data.targetKeyId === findKey(w, ctx.region, input.KeyId as string)?.id,
        );
      return {
        Aliases: list.map((a) => ({
          AliasName: a.id,
          AliasArn: a.arn,
          TargetKeyId: a.data.targetKeyId,
        })),
        Truncated: false,
      };
    },
    EnableKey(ctx, input) {
      const k = key(ctx.region, input.KeyId as string);
      if (k.state === 'PendingDeletion')
        throw err('KMSInvalidStateException', `${k.arn!} is pending deletion.`);
      k.state = 'Enabled';
      return {};
    },
    DisableKey(ctx, input) {
      const k = key(ctx.region, input.KeyId as string);
      if (k.state === 'PendingDeletion')
        throw err('KMSInvalidStateException', `${k.arn!} is pending deletion.`);
      k.state = 'Disabled';
      return {};
    },
    ScheduleKeyDeletion(ctx, input) {
      const k = key(ctx.region, input.KeyId as string);
      const days = (input.PendingWindowInDays as number | undefined) ?? 30;
      if (days < 7 || days > 30)
        throw err('ValidationException', 'PendingWindowInDays must be between 7 and 30.');
      if (k.state === 'PendingDeletion')
        throw err('KMSInvalidStateException', `${k.arn!} is pending deletion.`);
      k.state = 'PendingDeletion';
      k.data.deletionDate = w.now() + days * 86_400_000;
      k.data.window = days;
      w.schedule(k, days * 86_400_000, { remove: true });
      return {
        KeyId: k.arn,
        DeletionDate: date(k.data.deletionDate as number),
        KeyState: 'PendingDeletion',
        PendingWindowInDays: days,
      };
    },
    CancelKeyDeletion(ctx, input) {
      const k = key(ctx.region, input.KeyId as string);
      if (k.state !== 'PendingDeletion')
        throw err('KMSInvalidStateException', `${k.arn!} is not pending deletion.`);
      k.state = 'Disabled';
      delete k.data.deletionDate;
      delete k.data.window;
      w.cancel(k, (t) => t.remove === true);
      return { KeyId: k.arn };
    },
    GetKeyRotationStatus(ctx, input) {
      const k = key(ctx.region, input.KeyId as string);
      if (k.state === 'PendingDeletion')
        throw err('KMSInvalidStateException', `${k.arn!} is pending deletion.`);
      return {
        KeyRotationEnabled: k.data.rotation === true,
        KeyId: k.arn,
        ...(k.data.rotation ? { RotationPeriodInDays: 365 } : {}),
      };
    },
    EnableKeyRotation(ctx, input) {
      const k = key(ctx.region, input.KeyId as string);
      if (k.state !== 'Enabled')
        throw err(
          'KMSInvalidStateException',
          `${k.arn!} is ${k.state === 'PendingDeletion' ? 'pending deletion' : 'disabled'}.`,
        );
      k.data.rotation = true;
      return {};
    },
    DisableKeyRotation(ctx, input) {
      key(ctx.region, input.KeyId as string).data.rotation = false;
      return {};
    },
    GetKeyPolicy(ctx, input) {
      const k = key(ctx.region, input.KeyId as string);
      if ((input.PolicyName ?? 'default') !== 'default')
        throw err('NotFoundException', 'No such policy exists');
      return { Policy: JSON.stringify(k.data.policy), PolicyName: 'default' };
    },
    PutKeyPolicy(ctx, input) {
      const k = key(ctx.region, input.KeyId as string);
      k.data.policy = checkPolicy(input.Policy);
      return {};
    },
    ListResourceTags(ctx, input) {
      const k = key(ctx.region, input.KeyId as string);
      return {
        Tags: Object.entries(k.tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
        Truncated: false,
      };
    },
    TagResource(ctx, input) {
      const k = key(ctx.region, input.KeyId as string);
      for (const t of (input.Tags ?? []) as In[]) k.tags[t.TagKey as string] = t.TagValue as string;
      return {};
    },
  };
  return { service: 'kms', handlers };
}
