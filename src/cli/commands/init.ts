import { access } from 'node:fs/promises';
import { configFromObject, parseConfig } from '../../config/load.js';
import { defaultZonesOf, regionInfo } from '../../config/regions.js';
import { renderConfig, type InitAnswers } from '../../config/render.js';
import { CloudmartError, ConfigError, formatIssue } from '../../errors.js';
import type { Io } from '../io.js';
import { assertWritable, writeOutputFile } from '../output.js';
import type { GlobalOptions } from '../runtime.js';

export interface InitOptions {
  yes?: boolean;
  email?: string;
  force?: boolean;
  remoteState?: boolean;
  stateBucket?: string;
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const AZ = /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/;

/**
 * The DR region and the two zones follow the region from the bundled table (config/regions.ts),
 * so they are asked only where the table has no safe answer: a DR pair the RDS documentation
 * does not list, a region whose zone letters differ per account, or a region it does not know.
 */
async function askPlacement(
  io: Io,
  region: string,
): Promise<{ drRegion: string; availabilityZones: [string, string] }> {
  const p = io.prompter;
  const info = regionInfo(region);
  const drRegion = info?.drDocumented
    ? info.dr
    : await p.input(
        info
          ? `Region for the RDS automated-backup copies (${info.dr} is suggested: AWS does not document the pair, so check that it is enabled for your account and that "aws rds describe-source-regions --region ${info.dr}" lists ${region})`
          : `Region for the RDS automated-backup copies (${region} is not in cloudmart's table: pick a nearby region enabled for your account)`,
        {
          ...(info ? { default: info.dr } : {}),
          validate: (v) =>
            !REGION.test(v)
              ? 'a region such as ap-northeast-1'
              : v === region
                ? `a region other than ${region}`
                : checkAnswer({ region }, 'drRegion', { drRegion: v }),
        },
      );

  let availabilityZones = defaultZonesOf(region);
  if (availabilityZones === null) {
    const known = info
      ? `${region} has ${info.zones.join(', ')}, but not every account sees all of them`
      : `${region} is not in cloudmart's table`;
    const answer = await p.input(
      `Two availability zones, comma-separated (${known}; "aws ec2 describe-availability-zones --region ${region}" lists yours)`,
      {
        ...(info ? {} : { default: `${region}a, ${region}b` }),
        validate: (v) => {
          const zones = v.split(',').map((z) => z.trim());
          if (zones.length !== 2 || !zones.every((z) => AZ.test(z) && z.startsWith(region)))
            return `two zones of ${region}, e.g. ${region}a, ${region}b`;
          return zones[0] === zones[1] ? 'two different zones' : true;
        },
      },
    );
    const [first = '', second = ''] = answer.split(',').map((z) => z.trim());
    availabilityZones = [first, second];
  } else {
    io.err(
      `Availability zones ${availabilityZones.join(' and ')}; RDS backups are copied to ${drRegion}. Both can be changed in the file.`,
    );
  }
  return { drRegion, availabilityZones };
}

/**
 * Check one answer the way the file will be checked: the answers so far plus this one, through
 * the config's own schema and rules; only the problems at `path` count. So an answer is
 * refused (and asked again) when it is given, never after all the others.
 */
function checkAnswer(
  answers: Record<string, unknown>,
  path: string,
  patch: Record<string, unknown>,
): true | string {
  const data: Record<string, unknown> = { alerts: { email: 'ops@example.com' }, ...answers };
  for (const [key, value] of Object.entries(patch)) {
    const [top, sub] = key.split('.') as [string, string | undefined];
    data[top] = sub === undefined ? value : { ...(data[top] as object), [sub]: value };
  }
  try {
    configFromObject(data);
    return true;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const mine = e.issues.filter((i) => i.path === path || i.path.startsWith(`${path}.`));
    return mine.length === 0
      ? true
      : mine.map((i) => (i.path === path ? i.message : `${i.path}: ${i.message}`)).join('; ');
  }
}

/** `init`: ask only what has no safe default, show the result, write it (never overwriting silently). */
export async function initCommand(
  io: Io,
  opts: InitOptions,
  cmd: { optsWithGlobals(): GlobalOptions },
): Promise<number> {
  const globals = cmd.optsWithGlobals();
  const file = globals.config;
  // As every other command: --region, else AWS_REGION, else the seed's region.
  const suggestedRegion =
    globals.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'ap-northeast-2';
  const exists = await access(file).then(
    () => true,
    () => false,
  );
  if (opts.remoteState) {
    // The config stays as it is (or is written first, as without --remote-state); then the
    // state bucket and the state: block.
    if (!exists || opts.force) {
      const code = await initCommand(io, { ...opts, remoteState: false }, cmd);
      if (code !== 0) return code;
    }
    const { setUpRemoteState } = await import('./remote-state.js');
    const { readConfig } = await import('../runtime.js');
    const config = await readConfig(globals, io);
    return setUpRemoteState(io, globals, config, file, { bucket: opts.stateBucket });
  }
  // A folder that does not exist fails now, not after every question was answered.
  await assertWritable(file, 'the config');

  let answers: InitAnswers;
  if (opts.yes) {
    if (!opts.email) {
      throw new CloudmartError(
        'USAGE',
        'init --yes needs --email: the alert address has no safe default',
        { exitCode: 2 },
      );
    }
    const region = suggestedRegion;
    if (!REGION.test(region))
      throw new CloudmartError('USAGE', `${region} is not an AWS region name`, {
        exitCode: 2,
        hint: 'Pass --region with a region such as ap-northeast-2.',
      });
    const info = regionInfo(region);
    const zones = defaultZonesOf(region);
    if (!info || !zones)
      throw new CloudmartError(
        'USAGE',
        `init --yes cannot choose the DR region and the zones of ${region}: ${info ? 'its zone letters differ per account' : 'it is not in the region table'}`,
        { exitCode: 2, hint: 'Run "cloudmart init" without --yes to be asked for them.' },
      );
    answers = {
      stack: 'cloudmart',
      region,
      drRegion: info.dr,
      availabilityZones: zones,
      email: opts.email,
      domain: null,
      allowedCidrs: ['0.0.0.0/0'],
      budgetUsd: 0.8,
    };
  } else {
    const p = io.prompter;
    const region = await p.input('AWS region', {
      default: suggestedRegion,
      validate: (v) =>
        REGION.test(v)
          ? checkAnswer({}, 'region', { region: v })
          : 'a region such as ap-northeast-2',
    });
    const { drRegion, availabilityZones } = await askPlacement(io, region);
    const placed = { region, drRegion, availabilityZones };
    const stack = await p.input('Stack name (every resource name derives from it)', {
      default: 'cloudmart',
      validate: (v) => checkAnswer(placed, 'stack', { stack: v }),
    });
    const email =
      opts.email ??
      (await p.input('Email address for alarm notifications', {
        validate: (v) => checkAnswer(placed, 'alerts.email', { 'alerts.email': v }),
      }));
    const domain = await p.input('Domain for HTTPS (Route 53 + ACM); leave empty for none', {
      default: '',
      validate: (v) => (v === '' ? true : checkAnswer(placed, 'dns.domain', { 'dns.domain': v })),
    });
    const cidrs = await p.input(
      'Who may reach the load balancer (CIDR allow-list, comma-separated)',
      {
        default: '0.0.0.0/0',
        validate: (v) =>
          checkAnswer(placed, 'network.allowedCidrs', {
            'network.allowedCidrs': v.split(',').map((c) => c.trim()),
          }),
      },
    );
    const budget = await p.input('Budget in USD for the exercise', {
      default: '0.80',
      validate: (v) =>
        v.trim() === '' || !Number.isFinite(Number(v))
          ? 'a number of dollars, e.g. 0.80'
          : checkAnswer(placed, 'budget.usd', { 'budget.usd': Number(v) }),
    });
    answers = {
      stack,
      region,
      drRegion,
      availabilityZones,
      email,
      domain: domain === '' ? null : domain,
      allowedCidrs: cidrs.split(',').map((c) => c.trim()),
      budgetUsd: Number(budget),
    };
  }

  const text = renderConfig(answers);
  // Validate exactly what would be written: a wizard answer the schema rejects fails here.
  parseConfig(text, file, { onWarning: (w) => io.err(`! ${formatIssue(w)}`) });

  io.err(`\n${text}`);
  if (exists && !opts.force) {
    if (opts.yes || !io.interactive) {
      throw new CloudmartError('USAGE', `${file} already exists; not overwriting it`, {
        exitCode: 2,
        hint: 'Pass --force to overwrite, or --config to write another file.',
      });
    }
    const overwrite = await io.prompter.confirm(`${file} exists. Overwrite it?`, {
      default: false,
    });
    if (!overwrite) {
      io.err('Nothing written.');
      return 1;
    }
  } else if (!opts.yes) {
    const ok = await io.prompter.confirm(`Write ${file}?`, { default: true });
    if (!ok) {
      io.err('Nothing written.');
      return 1;
    }
  }
  await writeOutputFile(file, text, 'the config');
  io.err(`Wrote ${file}. Next: cloudmart plan`);
  return 0;
}
