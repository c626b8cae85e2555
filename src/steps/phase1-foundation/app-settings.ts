import type { Parameter } from '@aws-sdk/client-ssm';
import { isAlreadyExists } from '../../aws/errors.js';
import { defineStep, type Check, type StepContext } from '../../engine/step.js';
import type { Config } from '../../config/schema.js';
import { names } from '../names.js';
import { STEP, type AppSettingsOutputs, type RdsOutputs, type RedisOutputs } from '../outputs.js';

const ssmsdk = () => import('@aws-sdk/client-ssm');

/**
 * The settings the app instances read at every service start (see user-data.ts), relative to
 * `names.parameterPrefix(config)`. Endpoints and secret ARNs only: the DB password and the
 * Redis AUTH token stay in Secrets Manager, which the instance role may read.
 */
export const SETTING_NAMES = [
  '/db/endpoint',
  '/db/port',
  '/db/name',
  '/db/engine',
  '/db/username',
  '/db/secret-arn',
  '/redis/endpoint',
  '/redis/port',
  '/redis/secret-arn',
  '/app/port',
] as const;
export type SettingName = (typeof SETTING_NAMES)[number];

export function desiredSettings(
  config: Config,
  rds: RdsOutputs,
  redis: RedisOutputs,
): Record<SettingName, string> {
  return {
    '/db/endpoint': rds.endpoint,
    '/db/port': String(rds.port),
    '/db/name': rds.dbName,
    '/db/engine': config.database.engine,
    // The managed secret carries the user name too; this is the fallback the env writer reads.
    '/db/username': config.database.masterUsername,
    '/db/secret-arn': rds.masterUserSecretArn,
    '/redis/endpoint': redis.primaryEndpoint,
    '/redis/port': String(redis.port),
    '/redis/secret-arn': redis.authSecretArn,
    '/app/port': String(config.app.port),
  };
}

const fullName = (config: Config, rel: string): string => `${names.parameterPrefix(config)}${rel}`;

/** The live parameters by full name (GetParameters takes at most 10 names per call). */
async function readParameters(ctx: StepContext, full: string[]): Promise<Map<string, Parameter>> {
  const { GetParametersCommand } = await ssmsdk();
  const ssm = await ctx.aws.get('ssm');
  const live = new Map<string, Parameter>();
  for (let i = 0; i < full.length; i += 10) {
    const out = await ssm.send(new GetParametersCommand({ Names: full.slice(i, i + 10) }));
    for (const p of out.Parameters ?? []) if (p.Name) live.set(p.Name, p);
  }
  return live;
}

export const appSettingsStep = defineStep<AppSettingsOutputs>({
  id: STEP.appSettings,
  phase: 1,
  title: 'App settings (SSM parameters)',
  needs: [STEP.rds, STEP.redis],
  // The parameters only name the endpoints: a failed delete of them keeps nothing billing.
  teardownKeeps: [],
  actions: [
    'ssm:GetParameters',
    'ssm:PutParameter',
    'ssm:AddTagsToResource',
    'ssm:DeleteParameters',
  ],
  describe: (config) => [
    `SSM parameters under ${names.parameterPrefix(config)}: ${SETTING_NAMES.join(', ')} (endpoints and secret ARNs, no secret values)`,
  ],

  async create(ctx) {
    const { PutParameterCommand } = await ssmsdk();
    const ssm = await ctx.aws.get('ssm');
    const want = desiredSettings(
      ctx.config,
      ctx.outputs<RdsOutputs>(STEP.rds),
      ctx.outputs<RedisOutputs>(STEP.redis),
    );
    const full = SETTING_NAMES.map((n) => fullName(ctx.config, n));
    const live = await readParameters(ctx, full);

    for (const rel of SETTING_NAMES) {
      const name = fullName(ctx.config, rel);
      const value = want[rel];
      const current = live.get(name);
      if (current?.Value === value && current.Type === 'String') continue;
      const overwrite = async () => {
        ctx.progress(`updating ${name}`);
        await ssm.send(
          new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }),
        );
      };
      if (current) {
        await overwrite();
        continue;
      }
      ctx.progress(`writing ${name}`);
      try {
        // Tags are only accepted on creation (not together with Overwrite).
        await ssm.send(
          new PutParameterCommand({
            Name: name,
            Value: value,
            Type: 'String',
            Description: `cloudmart ${ctx.config.stack}: app setting ${rel}`,
            Tags: ctx.tags.list(name),
          }),
        );
      } catch (e) {
        if (!isAlreadyExists(e)) throw e; // written by a concurrent run since we read
        await overwrite();
      }
    }
    return { parameterPrefix: names.parameterPrefix(ctx.config), parameterNames: full };
  },

  async verify(ctx) {
    const full = SETTING_NAMES.map((n) => fullName(ctx.config, n));
    const live = await readParameters(ctx, full);
    const missing = full.filter((n) => !live.has(n));
    const fix = 'cloudmart up --phase 1';
    const checks: Check[] = [
      {
        id: 'app.settings.present',
        title: 'App settings are in SSM Parameter Store',
        criterion: 'other',
        status: missing.length === 0 ? 'pass' : 'fail',
        evidence:
          missing.length === 0
            ? `${full.length} parameters under ${names.parameterPrefix(ctx.config)}`
            : `missing: ${missing.join(', ')}`,
        fix,
      },
    ];
    const secretRefs = ['/db/secret-arn', '/redis/secret-arn'].map((r) =>
      live.get(fullName(ctx.config, r)),
    );
    const plain = [...live.values()].every((p) => p.Type === 'String');
    const refsAreArns = secretRefs.every(
      (p) => !p || /^arn:[^:]+:secretsmanager:/.test(p.Value ?? ''),
    );
    checks.push({
      id: 'app.settings.no-secrets',
      title: 'Settings hold secret ARNs, never secret values',
      criterion: 'security-design',
      status: plain && refsAreArns ? 'pass' : 'fail',
      evidence: `types ${[...new Set([...live.values()].map((p) => p.Type))].join('/') || 'none'}; secret references ${refsAreArns ? 'are Secrets Manager ARNs' : 'are not ARNs'}`,
      fix,
    });
    const rds = ctx.maybeOutputs<RdsOutputs>(STEP.rds);
    const redis = ctx.maybeOutputs<RedisOutputs>(STEP.redis);
    if (rds && redis) {
      const want = desiredSettings(ctx.config, rds, redis);
      const stale = SETTING_NAMES.filter(
        (r) =>
          live.has(fullName(ctx.config, r)) && live.get(fullName(ctx.config, r))?.Value !== want[r],
      );
      checks.push({
        id: 'app.settings.current',
        title: 'Settings point at the current database and cache',
        criterion: 'other',
        status: stale.length === 0 ? 'pass' : 'fail',
        evidence:
          stale.length === 0
            ? 'all values match the DB and Redis outputs'
            : `stale: ${stale.join(', ')}`,
        fix,
      });
    }
    return checks;
  },

  async teardown(ctx) {
    const { DeleteParametersCommand } = await ssmsdk();
    const ssm = await ctx.aws.get('ssm');
    const full = SETTING_NAMES.map((n) => fullName(ctx.config, n));
    // Names that are already gone come back in InvalidParameters, not as an error.
    for (let i = 0; i < full.length; i += 10) {
      await ssm.send(new DeleteParametersCommand({ Names: full.slice(i, i + 10) }));
    }
  },
});
