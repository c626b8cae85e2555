import { access } from 'node:fs/promises';
import { parseConfig } from '../../config/load.js';
import { stackLimit } from '../../config/limits.js';
import { defaultZonesOf, regionInfo } from '../../config/regions.js';
import { renderConfig, type InitAnswers } from '../../config/render.js';
import { STACK_PATTERN } from '../../config/schema.js';
import { CloudmartError, formatIssue } from '../../errors.js';
import type { Io } from '../io.js';
import { assertWritable, writeOutputFile } from '../output.js';
import type { GlobalOptions } from '../runtime.js';

export interface InitOptions {
  yes?: boolean;
  email?: string;
  force?: boolean;
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
                : true,
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

const validEmail = (v: string) =>
  /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(v) ? true : 'an email address, e.g. ops@example.com';
const validCidr = (v: string) =>
  v.split(',').every((c) => /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/.test(c.trim()))
    ? true
    : 'CIDR blocks such as 203.0.113.0/24, comma-separated';

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
      validate: (v) => (REGION.test(v) ? true : 'a region such as ap-northeast-2'),
    });
    const { drRegion, availabilityZones } = await askPlacement(io, region);
    const stack = await p.input('Stack name (prefix of every resource)', {
      default: 'cloudmart',
      validate: (v) =>
        STACK_PATTERN.test(v) && v.length <= stackLimit(region).max
          ? true
          : `lower-case letters, digits and single hyphens, starting with a letter, at most ${stackLimit(region).max}`,
    });
    const email =
      opts.email ??
      (await p.input('Email address for alarm notifications', { validate: validEmail }));
    const domain = await p.input('Domain for HTTPS (Route 53 + ACM); leave empty for none', {
      default: '',
      validate: (v) =>
        v === '' || /^([a-z0-9-]+\.)+[a-z]{2,}$/.test(v)
          ? true
          : 'a domain such as shop.example.com, or empty',
    });
    const cidrs = await p.input('Who may reach the load balancer (CIDR allow-list)', {
      default: '0.0.0.0/0',
      validate: validCidr,
    });
    const budget = await p.input('Budget in USD for the exercise', {
      default: '0.80',
      validate: (v) => (Number(v) > 0 ? true : 'a positive number'),
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
