/**
 * Bad input: broken configs and broken state files, run through the CLI's main() with a
 * recording Io and the fake cloud installed. Each gives its own clear error and exit code
 * (2 for config and usage, 1 for a damaged, newer or locked state), nothing is sent to AWS,
 * and no state file is created or changed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { recordingIo } from '../helpers/io.js';
import { removeDir, tempDir } from './harness.js';

const EMAIL = 'alerts:\n  email: ops@example.com\n';

interface ConfigCase {
  name: string;
  /** File content; a Buffer for bytes that are not text. */
  content: string | Buffer;
  /** Every one of these must appear in the output. */
  expect: Array<string | RegExp>;
}

const long = (n: number) => 'x'.repeat(n);

const CONFIG_CASES: ConfigCase[] = [
  // Types
  {
    name: 'port is a string',
    content: `${EMAIL}app:\n  port: eighty\n`,
    expect: ['app.port: ', '(line 4)'],
  },
  {
    name: 'multiAz is a string',
    content: `${EMAIL}database:\n  multiAz: "yes"\n`,
    expect: ['database.multiAz: '],
  },
  { name: 'network is a list', content: `${EMAIL}network: [a, b]\n`, expect: ['network: '] },
  { name: 'tags is a string', content: `${EMAIL}tags: prod\n`, expect: ['tags: '] },
  { name: 'budget is negative', content: `${EMAIL}budget:\n  usd: -1\n`, expect: ['budget.usd: '] },
  { name: 'port below 1024', content: `${EMAIL}app:\n  port: 80\n`, expect: ['app.port: '] },
  {
    name: 'storage below 20 GiB',
    content: `${EMAIL}database:\n  allocatedStorageGiB: 5\n`,
    expect: ['database.allocatedStorageGiB: '],
  },
  {
    name: 'unknown database engine',
    content: `${EMAIL}database:\n  engine: oracle\n`,
    expect: ['database.engine: '],
  },
  {
    name: 'log retention CloudWatch does not accept',
    content: `${EMAIL}network:\n  flowLogs:\n    retentionDays: 8\n`,
    expect: ['network.flowLogs.retentionDays: '],
  },
  {
    name: 'edge region other than us-east-1',
    content: `${EMAIL}edgeRegion: eu-west-1\n`,
    expect: ['edgeRegion: '],
  },
  // Required and unknown keys
  { name: 'no alerts at all', content: 'stack: shop\n', expect: ['alerts: is required'] },
  {
    name: 'alert email is not an email',
    content: 'alerts:\n  email: nope\n',
    expect: ['alerts.email: must be an email address (line 2)'],
  },
  {
    name: 'phone not in E.164',
    content: `alerts:\n  email: ops@example.com\n  phone: "010-1234-5678"\n`,
    expect: ['alerts.phone: must be in E.164 form'],
  },
  {
    name: 'unknown top-level key with a suggestion',
    content: `${EMAIL}regoin: ap-northeast-2\n`,
    expect: ['regoin: unknown setting; did you mean "region"? (line 3)'],
  },
  {
    name: 'unknown nested key with a suggestion',
    content: `${EMAIL}network:\n  vpcCdir: 10.0.0.0/16\n`,
    expect: ['network.vpcCdir: unknown setting; did you mean "vpcCidr"? (line 4)'],
  },
  // Names and regions
  {
    name: 'stack starts with a digit',
    content: `stack: 9lives\n${EMAIL}`,
    expect: ['stack: must start with a letter', '(line 1)'],
  },
  { name: 'stack too long', content: `stack: a${long(30)}\n${EMAIL}`, expect: ['stack: '] },
  {
    name: 'region is not a region',
    content: `region: korea\n${EMAIL}`,
    expect: ['region: must be an AWS region such as ap-northeast-2'],
  },
  {
    name: 'three availability zones',
    content: `${EMAIL}availabilityZones: [ap-northeast-2a, ap-northeast-2b, ap-northeast-2c]\n`,
    expect: ['availabilityZones: exactly two availability zones'],
  },
  {
    name: 'availability zone of another region',
    content: `${EMAIL}availabilityZones: [ap-northeast-2a, us-east-1a]\n`,
    expect: ['availabilityZones.1: us-east-1a is not in the region ap-northeast-2'],
  },
  {
    name: 'twice the same availability zone',
    content: `${EMAIL}availabilityZones: [ap-northeast-2a, ap-northeast-2a]\n`,
    expect: ['availabilityZones.1: the two availability zones must differ'],
  },
  {
    name: 'DR region equals the main region',
    content: `${EMAIL}drRegion: ap-northeast-2\n`,
    expect: ['drRegion: the DR region must differ from the main region'],
  },
  // CIDR errors
  {
    name: 'VPC CIDR is not a CIDR',
    content: `${EMAIL}network:\n  vpcCidr: 10.0.0.0/8x\n`,
    expect: ['network.vpcCidr: must be an IPv4 CIDR block such as 10.0.0.0/16 (line 4)'],
  },
  {
    name: 'VPC CIDR with host bits',
    content: `${EMAIL}network:\n  vpcCidr: 10.0.0.1/16\n`,
    expect: ['network.vpcCidr: 10.0.0.1/16 has host bits set'],
  },
  {
    name: 'VPC block too large',
    content: `${EMAIL}network:\n  vpcCidr: 10.0.0.0/8\n`,
    expect: ['network.vpcCidr: a VPC block must be between /16 and /28'],
  },
  {
    name: 'subnet outside the VPC',
    content: `${EMAIL}network:\n  publicSubnets: [10.0.1.0/24, 10.1.2.0/24]\n`,
    expect: ['network.publicSubnets.1: 10.1.2.0/24 is not inside the VPC block 10.0.0.0/16'],
  },
  {
    name: 'overlapping subnets',
    content: `${EMAIL}network:\n  appSubnets: [10.0.1.0/24, 10.0.12.0/24]\n`,
    expect: ['network.appSubnets.0: 10.0.1.0/24 overlaps network.publicSubnets.0 (10.0.1.0/24)'],
  },
  {
    name: 'one public subnet only',
    content: `${EMAIL}network:\n  publicSubnets: [10.0.1.0/24]\n`,
    expect: ['network.publicSubnets: '],
  },
  {
    name: 'empty allow-list',
    content: `${EMAIL}network:\n  allowedCidrs: []\n`,
    expect: ['network.allowedCidrs: '],
  },
  {
    name: 'octet above 255',
    content: `${EMAIL}network:\n  allowedCidrs: [300.1.2.3/32]\n`,
    expect: ['network.allowedCidrs.0: must be an IPv4 CIDR block'],
  },
  // Cross-field rules
  {
    name: 'minSize above desiredCapacity',
    content: `${EMAIL}app:\n  minSize: 3\n  desiredCapacity: 2\n  maxSize: 4\n`,
    expect: ['app.desiredCapacity: must be at least minSize (3)'],
  },
  {
    name: 'desiredCapacity above maxSize',
    content: `${EMAIL}app:\n  desiredCapacity: 5\n`,
    expect: ['app.maxSize: must be at least desiredCapacity (5)'],
  },
  {
    name: 'AMI that is neither an id nor a parameter',
    content: `${EMAIL}app:\n  ami: ubuntu\n`,
    expect: ['app.ami: must be an AMI id'],
  },
  {
    name: 'backup window in the wrong format',
    content: `${EMAIL}database:\n  backupWindow: 3am-4am\n`,
    expect: ['database.backupWindow: must look like 03:00-04:00 (UTC)'],
  },
  {
    name: 'backup window shorter than 30 minutes',
    content: `${EMAIL}database:\n  backupWindow: 03:00-03:10\n`,
    expect: ['database.backupWindow: must be at least 30 minutes long'],
  },
  {
    name: 'expiry before the Glacier transition',
    content: `${EMAIL}backup:\n  s3:\n    noncurrentToGlacierDays: 30\n    noncurrentExpireDays: 10\n`,
    expect: ['backup.s3.noncurrentExpireDays: must be later than noncurrentToGlacierDays (30)'],
  },
  {
    name: 'hosted zone without a domain',
    content: `${EMAIL}dns:\n  hostedZoneId: Z123\n`,
    expect: ['dns.domain: is required when hostedZoneId or createHostedZone is set'],
  },
  {
    name: 'domain that is not a domain',
    content: `${EMAIL}dns:\n  domain: "shop example com"\n`,
    expect: ['dns.domain: must be a domain name such as shop.example.com'],
  },
  {
    name: 'tag value longer than 256',
    content: `${EMAIL}tags:\n  Owner: ${long(300)}\n`,
    expect: ['tags.Owner: '],
  },
  {
    name: 'stack name RDS and ElastiCache refuse (upper case, "--", trailing -)',
    content: `stack: Shop--\n${EMAIL}`,
    expect: ['stack: must start with a letter and use only lower-case letters', '(line 1)'],
  },
  {
    name: 'stack name too long for the bucket names in its region',
    content: `stack: ${'shop-'.repeat(5)}ab\n${EMAIL}`,
    expect: ['stack: is too long for ap-northeast-2: at most 24 characters', '(line 1)'],
  },
  {
    name: 'tag key with the reserved aws: prefix, tag value with &',
    content: `${EMAIL}tags:\n  aws:team: a\n  Team: R&D\n`,
    expect: [
      'tags.aws:team: a tag key must not start with "aws:": AWS reserves that prefix (line 4)',
      'tags.Team: a tag value may use only letters',
    ],
  },
  {
    name: 'Valkey with a Redis OSS version',
    content: `${EMAIL}cache:\n  engine: valkey\n  engineVersion: "7.1"\n`,
    expect: ['cache.engineVersion: ElastiCache offers Valkey from 7.2 on', '(line 5)'],
  },
  {
    name: 'schema and cross-field problems reported at once',
    content: `${EMAIL}network:\n  allowedCidrs: [1.2.3.4/33]\n  dataSubnets: [10.9.21.0/24, 10.0.22.0/24]\napp:\n  port: eighty\n  maxSize: 1\n`,
    expect: [
      '- network.allowedCidrs.0: must be an IPv4 CIDR block',
      '- app.port: ',
      '- network.dataSubnets.0: 10.9.21.0/24 is not inside the VPC block 10.0.0.0/16',
      '- app.maxSize: must be at least desiredCapacity (2)',
    ],
  },
  {
    name: 'several problems reported at once',
    content: `stack: 9lives\nalerts:\n  email: nope\nnetwork:\n  vpcCidr: 10.0.0.0/8x\n`,
    expect: [
      '- stack: must start with a letter',
      '- alerts.email: must be an email address',
      '- network.vpcCidr: must be an IPv4 CIDR block',
    ],
  },
  // YAML and file-level problems
  {
    name: 'YAML syntax: unclosed flow sequence',
    content: `${EMAIL}availabilityZones: [ap-northeast-2a, ap-northeast-2c\n`,
    expect: ['YAML syntax error'],
  },
  {
    name: 'YAML syntax: bad indentation',
    content: `alerts:\n  email: ops@example.com\n    phone: x\n`,
    expect: ['YAML syntax error', /\(line \d+\)/],
  },
  {
    name: 'YAML syntax: tab indentation',
    content: `alerts:\n\temail: ops@example.com\n`,
    expect: ['YAML syntax error'],
  },
  {
    name: 'YAML: a key twice',
    content: `${EMAIL}region: ap-northeast-2\nregion: us-east-1\n`,
    expect: ['YAML syntax error', 'unique'],
  },
  { name: 'empty file', content: '', expect: ['alerts: is required'] },
  { name: 'only comments', content: '# nothing here\n# at all\n', expect: ['alerts: is required'] },
  {
    name: 'a list instead of a mapping',
    content: '- stack\n- region\n',
    expect: ['the config must be a mapping of settings'],
  },
  {
    name: 'a bare scalar',
    content: 'hello\n',
    expect: ['the config must be a mapping of settings'],
  },
  {
    name: 'a very large file (2 MiB)',
    content: `${EMAIL}# ${long(2 * 1024 * 1024)}\n`,
    expect: ['file is larger than 1048576 bytes'],
  },
  {
    name: 'invalid UTF-8',
    content: Buffer.from([0x73, 0x74, 0x61, 0x63, 0x6b, 0x3a, 0x20, 0xc3, 0x28, 0xff, 0xfe, 0x0a]),
    expect: ['file is not valid UTF-8 text'],
  },
  {
    name: 'a binary file (PNG header)',
    content: Buffer.from([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
      0x52, 0xff,
    ]),
    expect: ['file is not valid UTF-8 text'],
  },
];

let cloud: FakeCloud;
const dirs: string[] = [];
beforeAll(async () => {
  cloud = await new FakeCloud({ mode: 'instant' }).install();
});
afterAll(() => {
  cloud.uninstall();
  for (const d of dirs) removeDir(d);
});

async function cli(args: string[]) {
  const io = recordingIo();
  const before = cloud.calls.length;
  const code = await main(['node', 'cloudmart', ...args], io);
  return { code, io, text: io.text(), awsCalls: cloud.calls.length - before };
}

function workDir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}

describe(`${CONFIG_CASES.length} broken configs: exit 2, every problem named, nothing sent to AWS`, () => {
  const summary: string[] = [];
  afterAll(() => {
    console.log(
      `[bad input] ${CONFIG_CASES.length} broken configs, each through "up --yes" and "destroy --yes": exit 2, no AWS call, no state file\n  ${summary.join('\n  ')}`,
    );
  });

  it.each(CONFIG_CASES)('$name', async (c) => {
    const dir = workDir();
    const file = join(dir, 'cloudmart.config.yaml');
    writeFileSync(file, c.content);
    const state = join(dir, 'state.json');
    for (const command of [
      ['up', '--yes'],
      ['destroy', '--yes'],
    ]) {
      const r = await cli([...command, '--config', file, '--state', state]);
      expect(r.code, r.text).toBe(2);
      expect(r.text).toContain(`✖ Config is invalid (${file}):`);
      expect(r.text).toContain('nothing was sent to AWS');
      for (const e of c.expect) {
        if (typeof e === 'string') expect(r.text).toContain(e);
        else expect(r.text).toMatch(e);
      }
      expect(r.awsCalls).toBe(0);
      expect(existsSync(state)).toBe(false);
      expect(existsSync(`${state}.lock`)).toBe(false);
    }
    const first = (await cli(['plan', '--config', file, '--state', state])).io.stderr
      .find((l) => l.startsWith('  - '))
      ?.trim();
    summary.push(`${c.name}: ${first ?? '?'}`.slice(0, 160));
  });

  /**
   * KNOWN ISSUE (reported to the lead; flip to `it` once fixed): YAML aliases that expand
   * exponentially ("billion laughs") make the yaml library throw from doc.toJS(), outside
   * parseConfig's checks, so the CLI prints "Unexpected error: Excessive alias count…" and
   * exits 1 instead of a config error with exit 2. Still nothing reaches AWS.
   */
  it('a YAML alias bomb is a config error (exit 2)', async () => {
    const dir = workDir();
    const file = join(dir, 'bomb.yaml');
    const levels = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const lines = [EMAIL.trimEnd(), `a: &a [${Array(9).fill('"lol"').join(',')}]`];
    for (let i = 1; i < levels.length; i++)
      lines.push(
        `${levels[i]}: &${levels[i]} [${Array(9)
          .fill(`*${levels[i - 1]}`)
          .join(',')}]`,
      );
    writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await cli(['up', '--yes', '--config', file, '--state', join(dir, 's.json')]);
    expect(r.awsCalls).toBe(0);
    expect(r.text).toContain('Config is invalid');
    expect(r.code).toBe(2);
  });

  it('a config file that does not exist', async () => {
    const dir = workDir();
    const r = await cli([
      'up',
      '--yes',
      '--config',
      join(dir, 'missing.yaml'),
      '--state',
      join(dir, 's.json'),
    ]);
    expect(r.code).toBe(2);
    expect(r.text).toContain('file not found; run "cloudmart init" to create one');
    expect(r.awsCalls).toBe(0);
  });

  it('a directory given as the config file', async () => {
    const dir = workDir();
    mkdirSync(join(dir, 'conf.yaml'));
    const r = await cli([
      'up',
      '--yes',
      '--config',
      join(dir, 'conf.yaml'),
      '--state',
      join(dir, 's.json'),
    ]);
    expect(r.code).toBe(2);
    expect(r.text).toContain('cannot read the file');
    expect(r.awsCalls).toBe(0);
  });

  it('bad flags are usage errors (exit 2) before anything is read or sent', async () => {
    const dir = workDir();
    const file = join(dir, 'c.yaml');
    writeFileSync(file, EMAIL);
    for (const args of [
      ['up', '--yes', '--phase', '7'],
      ['up', '--yes', '--concurrency', '0'],
      ['up', '--yes', '--phase', '1', '--to', '2'],
      ['up', '--yes', '--step', 'network.nope'],
      ['up', '--bogus'],
      ['destroy', '--concurrency', 'many'],
    ]) {
      const r = await cli([...args, '--config', file, '--state', join(dir, 's.json')]);
      expect(r.code, `${args.join(' ')}: ${r.text}`).toBe(2);
      expect(r.awsCalls).toBe(0);
    }
  });
});

describe('broken state files: a clear error, the file left untouched, nothing sent to AWS', () => {
  const config = () => {
    const dir = workDir();
    const file = join(dir, 'cloudmart.config.yaml');
    writeFileSync(file, EMAIL);
    return { dir, file, state: join(dir, 'state.json') };
  };
  const valid = {
    version: 1,
    stack: 'cloudmart',
    region: 'ap-northeast-2',
    createdAt: '2025-01-01T00:00:00.000Z',
    updatedAt: '2025-01-01T00:00:00.000Z',
    steps: {
      'network.vpc': { status: 'done', attempts: 1, outputs: { vpcId: 'vpc-0123456789abcdef0' } },
    },
    runs: [],
    results: {},
  };
  const text = JSON.stringify(valid, null, 2);

  const STATE_CASES: Array<{ name: string; content: string; code: number; expect: string }> = [
    {
      name: 'truncated JSON',
      content: text.slice(0, Math.floor(text.length / 2)),
      code: 1,
      expect: 'is not valid JSON',
    },
    { name: 'an empty file', content: '', code: 1, expect: 'is not valid JSON' },
    { name: 'null', content: 'null', code: 1, expect: 'is damaged: not an object' },
    {
      name: 'no version',
      content: JSON.stringify({ ...valid, version: undefined }),
      code: 1,
      expect: 'is damaged: no version',
    },
    {
      name: 'an unknown old version',
      content: JSON.stringify({ ...valid, version: 0 }),
      code: 1,
      expect: 'is damaged: unknown version 0',
    },
    {
      name: 'a newer version',
      content: JSON.stringify({ ...valid, version: 99 }),
      code: 1,
      expect: 'has version 99, newer than this cloudmart understands (1)',
    },
    {
      name: 'a step with an invalid status',
      content: JSON.stringify({
        ...valid,
        steps: { 'network.vpc': { status: 'weird', attempts: 1 } },
      }),
      code: 1,
      expect: 'step network.vpc has no valid status',
    },
    {
      name: 'another stack',
      content: JSON.stringify({ ...valid, stack: 'othershop' }),
      code: 1,
      expect: 'belongs to stack "othershop", not "cloudmart"',
    },
  ];

  it.each(STATE_CASES)('$name', async (c) => {
    const { file, state } = config();
    writeFileSync(state, c.content);
    for (const command of [
      ['up', '--yes'],
      ['destroy', '--yes'],
      ['status', '--offline'],
    ]) {
      const r = await cli([...command, '--config', file, '--state', state]);
      expect(r.code, r.text).toBe(c.code);
      expect(r.text).toContain(c.expect);
      expect(r.text).toMatch(/→ /); // every state error says what to do next
      expect(r.awsCalls).toBe(0);
      expect(readFileSync(state, 'utf8')).toBe(c.content);
      expect(existsSync(`${state}.lock`)).toBe(false);
    }
  });

  let holder: ChildProcess | undefined;
  afterAll(() => {
    holder?.kill('SIGKILL');
  });

  it('a state locked by a live process: STATE_LOCKED naming the holder, its lock left in place', async () => {
    const { file, state } = config();
    writeFileSync(state, text);
    holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    const lock = JSON.stringify({
      pid: holder.pid,
      host: hostname(),
      command: 'up',
      startedAt: '2025-01-01T00:00:00.000Z',
    });
    writeFileSync(`${state}.lock`, lock);
    for (const command of [
      ['up', '--yes'],
      ['destroy', '--yes'],
    ]) {
      const r = await cli([...command, '--config', file, '--state', state]);
      expect(r.code, r.text).toBe(1);
      expect(r.text).toContain(
        `Another cloudmart run holds the lock on ${state}: "up" (pid ${holder.pid}`,
      );
      expect(r.text).toContain('--force-unlock');
      expect(r.awsCalls).toBe(0);
      expect(readFileSync(`${state}.lock`, 'utf8')).toBe(lock);
      expect(readFileSync(state, 'utf8')).toBe(text);
    }
  });
});
