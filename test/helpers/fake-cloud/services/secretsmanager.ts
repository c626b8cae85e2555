/* eslint-disable @typescript-eslint/no-unsafe-return -- responses are free-form SDK shapes (types.ts In) */
import type { In, Resource, ServiceModule } from '../types.js';
import { tagMap } from '../util.js';
import type { World } from '../world.js';
import { date, findKey } from './shared.js';

/**
 * Secrets Manager: secrets with values (kept only here, as in AWS), deletion with a recovery
 * window (the name stays taken) or forced, restore, random passwords, and the RDS-managed
 * master-password secrets (`rds!db-…`) that RDS creates and deletes itself.
 */

export const SECRET = 'secretsmanager:secret';

function secretArn(w: World, region: string, name: string): string {
  return w.arn(
    'secretsmanager',
    region,
    `secret:${name}-${w.rng.chars(6, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789')}`,
  );
}

/** The secret RDS creates for ManageMasterUserPassword; returns its ARN. */
export function createManagedSecret(
  w: World,
  region: string,
  db: Resource,
  kmsKeyId: string | undefined,
): string {
  const name = `rds!db-${w.rng.uuid()}`;
  const arn = secretArn(w, region, name);
  w.add({
    service: 'secretsmanager',
    type: SECRET,
    region,
    id: arn,
    arn,
    name,
    tags: { 'aws:rds:primaryDBInstanceArn': db.arn!, 'aws:secretsmanager:owningService': 'rds' },
    state: 'active',
    owner: db.arn!,
    data: {
      description: `Secret associated with primary RDS DB instance: ${db.arn!}`,
      kmsKeyId: kmsKeyId ? (findKey(w, region, kmsKeyId)?.arn ?? kmsKeyId) : undefined,
      value: JSON.stringify({
        username: db.data.masterUsername,
        password: w.rng.chars(28, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'),
      }),
      versionId: w.rng.uuid(),
      owningService: 'rds',
    },
  });
  return arn;
}

export function deleteManagedSecret(w: World, region: string, arn: string): void {
  const r = w.get(SECRET, region, arn);
  if (r) w.remove(r);
}

export function secretsmanagerService(w: World): ServiceModule {
  const err = (code: string, message: string) => w.error('secretsmanager', code, message);

  /** By name, full ARN, or ARN without the random suffix. */
  function lookup(region: string, id: string): Resource {
    const r = w
      .all(SECRET, region)
      .find(
        (s) =>
          s.arn === id || s.name === id || (id.startsWith('arn:') && s.arn!.startsWith(`${id}-`)),
      );
    if (!r)
      throw err('ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
    return r;
  }

  function describe(r: Resource): In {
    const d = r.data;
    return {
      ARN: r.arn,
      Name: r.name,
      Description: d.description,
      ...(d.kmsKeyId ? { KmsKeyId: d.kmsKeyId } : {}),
      CreatedDate: date(r.createdAt),
      LastChangedDate: date((d.changedAt as number | undefined) ?? r.createdAt),
      ...(d.deletedDate ? { DeletedDate: date(d.deletedDate as number) } : {}),
      ...(d.owningService ? { OwningService: d.owningService } : {}),
      Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
      VersionIdsToStages: { [d.versionId as string]: ['AWSCURRENT'] },
    };
  }

  const handlers: ServiceModule['handlers'] = {
    CreateSecret(ctx, input) {
      const name = input.Name as string;
      const existing = w.all(SECRET, ctx.region).find((s) => s.name === name);
      if (existing?.data.deletedDate) {
        throw err(
          'InvalidRequestException',
          "You can't create this secret because a secret with this name is already scheduled for deletion.",
        );
      }
      if (existing)
        throw err(
          'ResourceExistsException',
          `The operation failed because the secret ${name} already exists.`,
        );
      if (input.KmsKeyId && !findKey(w, ctx.region, input.KmsKeyId as string)) {
        throw err('InvalidParameterException', 'The KMS key is not valid or not accessible.');
      }
      const arn = secretArn(w, ctx.region, name);
      const versionId = (input.ClientRequestToken as string | undefined) ?? w.rng.uuid();
      w.add({
        service: 'secretsmanager',
        type: SECRET,
        region: ctx.region,
        id: arn,
        arn,
        name,
        tags: tagMap(input.Tags),
        state: 'active',
        data: {
          description: input.Description,
          kmsKeyId: input.KmsKeyId,
          value: input.SecretString,
          versionId,
        },
      });
      return { ARN: arn, Name: name, VersionId: versionId };
    },
    DescribeSecret(ctx, input) {
      return describe(lookup(ctx.region, input.SecretId as string));
    },
    GetSecretValue(ctx, input) {
      const r = lookup(ctx.region, input.SecretId as string);
      if (r.data.deletedDate) {
        throw err(
          'InvalidRequestException',
          "You can't perform this operation on the secret because it was marked for deletion.",
        );
      }
      return {
        ARN: r.arn,
        Name: r.name,
        VersionId: r.data.versionId,
        SecretString: r.data.value,
        VersionStages: ['AWSCURRENT'],
        CreatedDate: date(r.createdAt),
      };
    },
    PutSecretValue(ctx, input) {
      const r = lookup(ctx.region, input.SecretId as string);
      r.data.value = input.SecretString;
      r.data.versionId = (input.ClientRequestToken as string | undefined) ?? w.rng.uuid();
      r.data.changedAt = w.now();
      return {
        ARN: r.arn,
        Name: r.name,
        VersionId: r.data.versionId,
        VersionStages: ['AWSCURRENT'],
      };
    },
    DeleteSecret(ctx, input) {
      const r = lookup(ctx.region, input.SecretId as string);
      if (r.data.owningService === 'rds') {
        throw err('InvalidRequestException', "You can't delete secret managed by rds.");
      }
      if (input.ForceDeleteWithoutRecovery && input.RecoveryWindowInDays) {
        throw err(
          'InvalidParameterException',
          "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
        );
      }
      if (input.ForceDeleteWithoutRecovery) {
        w.remove(r);
        return { ARN: r.arn, Name: r.name, DeletionDate: date(w.now()) };
      }
      if (r.data.deletedDate) {
        throw err(
          'InvalidRequestException',
          "You can't perform this operation on the secret because it was marked for deletion.",
        );
      }
      const days = (input.RecoveryWindowInDays as number | undefined) ?? 30;
      r.data.deletedDate = w.now();
      r.state = 'scheduled-for-deletion';
      w.schedule(r, days * 86_400_000, { remove: true });
      return { ARN: r.arn, Name: r.name, DeletionDate: date(w.now() + days * 86_400_000) };
    },
    RestoreSecret(ctx, input) {
      const r = lookup(ctx.region, input.SecretId as string);
      delete r.data.deletedDate;
      r.state = 'active';
      w.cancel(r, (t) => t.remove === true);
      return { ARN: r.arn, Name: r.name };
    },
    GetRandomPassword(_ctx, input) {
      const length = (input.PasswordLength as number | undefined) ?? 32;
      if (length < 1 || length > 4096)
        throw err('InvalidParameterException', 'PasswordLength must be between 1 and 4096');
      const sets: string[] = [];
      if (!input.ExcludeUppercase) sets.push('ABCDEFGHIJKLMNOPQRSTUVWXYZ');
      if (!input.ExcludeLowercase) sets.push('abcdefghijklmnopqrstuvwxyz');
      if (!input.ExcludeNumbers) sets.push('0123456789');
      if (!input.ExcludePunctuation) sets.push('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
      if (input.IncludeSpace) sets.push(' ');
      const excluded = new Set(String(input.ExcludeCharacters ?? ''));
      const pools = sets
        .map((s) => [...s].filter((c) => !excluded.has(c)).join(''))
        .filter(Boolean);
      const all = pools.join('');
      let out = [...w.rng.chars(length, all)];
      if (input.RequireEachIncludedType !== false) {
        pools.forEach((p, i) => {
          if (i < out.length) out[w.rng.int(out.length)] = p[w.rng.int(p.length)]!;
        });
        // make sure each pool is really present
        pools.forEach((p, i) => {
          if (!out.some((c) => p.includes(c)) && i < out.length) out[i] = p[w.rng.int(p.length)]!;
        });
      }
      out = out.slice(0, length);
      return { RandomPassword: out.join('') };
    },
    TagResource(ctx, input) {
      Object.assign(lookup(ctx.region, input.SecretId as string).tags, tagMap(input.Tags));
      return {};
    },
  };
  return { service: 'secretsmanager', handlers };
}
