import {
  DeleteParametersCommand,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { beforeEach, describe, expect, it } from 'vitest';
import { appSettingsStep } from '../../../src/steps/phase1-foundation/app-settings.js';
import { STEP } from '../../../src/steps/outputs.js';
import { awsError, strictMock, testContext } from '../../helpers/context.js';

const DB_SECRET = 'arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:rds!db-1234-AbCdEf';
const REDIS_SECRET =
  'arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:cloudmart/cloudmart/redis-auth-XyZ';
const OUTPUTS = {
  [STEP.rds]: {
    dbInstanceIdentifier: 'cloudmart-db',
    dbInstanceArn: 'arn:aws:rds:ap-northeast-2:123456789012:db:cloudmart-db',
    endpoint: 'cloudmart-db.abc.ap-northeast-2.rds.amazonaws.com',
    port: 5432,
    engine: 'postgres',
    dbName: 'cloudmart',
    masterUserSecretArn: DB_SECRET,
    dbSubnetGroupName: 'cloudmart-db',
    parameterGroupName: 'cloudmart-db',
  },
  [STEP.redis]: {
    replicationGroupId: 'cloudmart-redis',
    primaryEndpoint: 'master.cloudmart-redis.abc.apn2.cache.amazonaws.com',
    readerEndpoint: 'replica.cloudmart-redis.abc.apn2.cache.amazonaws.com',
    port: 6379,
    authSecretArn: REDIS_SECRET,
    cacheSubnetGroupName: 'cloudmart-redis',
    memberClusters: ['cloudmart-redis-001', 'cloudmart-redis-002'],
  },
};

const P = '/cloudmart/cloudmart';
const WANT: Record<string, string> = {
  [`${P}/db/endpoint`]: 'cloudmart-db.abc.ap-northeast-2.rds.amazonaws.com',
  [`${P}/db/port`]: '5432',
  [`${P}/db/name`]: 'cloudmart',
  [`${P}/db/engine`]: 'postgres',
  [`${P}/db/username`]: 'cloudmart',
  [`${P}/db/secret-arn`]: DB_SECRET,
  [`${P}/redis/endpoint`]: 'master.cloudmart-redis.abc.apn2.cache.amazonaws.com',
  [`${P}/redis/port`]: '6379',
  [`${P}/redis/secret-arn`]: REDIS_SECRET,
  [`${P}/app/port`]: '8080',
};
const liveParams = (over: Record<string, string> = {}) =>
  Object.entries({ ...WANT, ...over }).map(([Name, Value]) => ({
    Name,
    Value,
    Type: 'String' as const,
  }));

describe('app.settings', () => {
  let ssm: ReturnType<typeof strictMock>;
  beforeEach(() => {
    ssm = strictMock(SSMClient);
  });
  const ctx = (outputs: Record<string, Record<string, unknown>> = OUTPUTS) =>
    testContext({ stepId: appSettingsStep.id, outputs });

  it('writes every setting as a tagged String parameter: endpoints and secret ARNs only', async () => {
    ssm.on(GetParametersCommand).resolves({ Parameters: [], InvalidParameters: Object.keys(WANT) });
    ssm.on(PutParameterCommand).resolves({ Version: 1 });

    const out = await appSettingsStep.create(ctx());

    const puts = ssm.commandCalls(PutParameterCommand).map((c) => c.args[0].input);
    expect(Object.fromEntries(puts.map((p) => [p.Name, p.Value]))).toEqual(WANT);
    for (const p of puts) {
      expect(p).toEqual({
        Name: p.Name,
        Value: WANT[p.Name!],
        Type: 'String',
        Description: expect.stringContaining('cloudmart cloudmart: app setting'),
        Tags: expect.arrayContaining([
          { Key: 'Name', Value: p.Name },
          { Key: 'cloudmart:stack', Value: 'cloudmart' },
          { Key: 'cloudmart:step', Value: 'app.settings' },
        ]),
      });
    }
    expect(ssm.commandCalls(GetParametersCommand)[0]!.args[0].input.Names).toEqual(
      Object.keys(WANT),
    );
    expect(out).toEqual({ parameterPrefix: P, parameterNames: Object.keys(WANT) });
  });

  it('adopts converged parameters without writing anything', async () => {
    ssm.on(GetParametersCommand).resolves({ Parameters: liveParams() });
    await appSettingsStep.create(ctx());
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  it('overwrites only the parameter whose value changed (a new DB endpoint after a re-create)', async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: liveParams({
        [`${P}/db/endpoint`]: 'old-db.abc.ap-northeast-2.rds.amazonaws.com',
      }),
    });
    ssm.on(PutParameterCommand).resolves({ Version: 2 });
    await appSettingsStep.create(ctx());
    expect(ssm.commandCalls(PutParameterCommand).map((c) => c.args[0].input)).toEqual([
      {
        Name: `${P}/db/endpoint`,
        Value: 'cloudmart-db.abc.ap-northeast-2.rds.amazonaws.com',
        Type: 'String',
        Overwrite: true,
      },
    ]);
  });

  it('overwrites when a concurrent run created the parameter after the read', async () => {
    const { [`${P}/app/port`]: _missing, ...rest } = WANT;
    ssm.on(GetParametersCommand).resolves({
      Parameters: Object.entries(rest).map(([Name, Value]) => ({
        Name,
        Value,
        Type: 'String' as const,
      })),
      InvalidParameters: [`${P}/app/port`],
    });
    ssm
      .on(PutParameterCommand)
      .rejectsOnce(awsError('ParameterAlreadyExists'))
      .resolves({ Version: 2 });
    await appSettingsStep.create(ctx());
    const puts = ssm.commandCalls(PutParameterCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(2);
    expect(puts[0]!.Tags).toBeDefined();
    expect(puts[1]).toEqual({
      Name: `${P}/app/port`,
      Value: '8080',
      Type: 'String',
      Overwrite: true,
    });
  });

  it('verify reports missing and stale settings', async () => {
    const { [`${P}/redis/port`]: _gone, ...rest } = WANT;
    ssm.on(GetParametersCommand).resolves({
      Parameters: Object.entries({ ...rest, [`${P}/db/port`]: '3306' }).map(([Name, Value]) => ({
        Name,
        Value,
        Type: 'String' as const,
      })),
    });
    const checks = await appSettingsStep.verify(ctx());
    const by = Object.fromEntries(checks.map((c) => [c.id, c]));
    expect(by['app.settings.present']).toMatchObject({
      status: 'fail',
      evidence: `missing: ${P}/redis/port`,
    });
    expect(by['app.settings.current']).toMatchObject({
      status: 'fail',
      evidence: 'stale: /db/port',
    });
    expect(by['app.settings.no-secrets']?.status).toBe('pass');
  });

  it('verify fails when a secret reference is not an ARN', async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: liveParams({ [`${P}/redis/secret-arn`]: 'hunter2' }),
    });
    const checks = await appSettingsStep.verify(ctx({}));
    expect(checks.find((c) => c.id === 'app.settings.no-secrets')?.status).toBe('fail');
    // Without the DB and Redis outputs the freshness check is not made.
    expect(checks.find((c) => c.id === 'app.settings.current')).toBeUndefined();
  });

  it('teardown deletes all the parameters; already-deleted ones are not an error', async () => {
    ssm
      .on(DeleteParametersCommand)
      .resolves({ DeletedParameters: [], InvalidParameters: Object.keys(WANT) });
    await appSettingsStep.teardown(testContext({ stepId: appSettingsStep.id }));
    expect(ssm.commandCalls(DeleteParametersCommand).map((c) => c.args[0].input)).toEqual([
      { Names: Object.keys(WANT) },
    ]);
  });
});
