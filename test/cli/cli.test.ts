import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Prompter } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { registry } from '../../src/steps/registry.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';

const run = async (args: string[], io = recordingIo()) => ({
  code: await main(['node', 'cloudmart', ...args], io),
  io,
});

describe('cli', () => {
  it('--help lists the commands', async () => {
    const { code, io } = await run(['--help']);
    expect(code).toBe(0);
    for (const c of ['init', 'plan', 'up', 'status', 'verify', 'destroy'])
      expect(io.text()).toMatch(new RegExp(`\\n  ${c} `));
  });

  it('plan works offline from the example config and lists every step by phase', async () => {
    const { code, io } = await run(['plan', '--state', join(tempDir(), 's.json')]);
    expect(code).toBe(0);
    expect(io.text()).toContain('Phase 1: Foundation');
    for (const s of registry) expect(io.text()).toContain(s.id);
  });

  it('plan --json prints one object with a steps array of id, phase, title, needs', async () => {
    const { code, io } = await run(['plan', '--json', '--state', join(tempDir(), 's.json')]);
    expect(code).toBe(0);
    const plan = JSON.parse(io.stdout.join('\n'));
    expect(plan.steps.length).toBe(registry.length);
    for (const s of plan.steps)
      expect(s).toEqual(
        expect.objectContaining({
          id: expect.any(String),
          phase: expect.any(Number),
          title: expect.any(String),
          needs: expect.any(Array),
        }),
      );
  });

  it('plan with a broken config exits 2 and names every bad field with its line', async () => {
    const file = join(tempDir(), 'bad.yaml');
    writeFileSync(
      file,
      'stack: 9lives\nalerts:\n  email: nope\nnetwork:\n  vpcCidr: 10.0.0.0/8x\n',
    );
    const { code, io } = await run(['plan', '--config', file]);
    expect(code).toBe(2);
    expect(io.text()).toContain('stack: must start with a letter');
    expect(io.text()).toContain('(line 1)');
    expect(io.text()).toContain('alerts.email: must be an email address (line 3)');
    expect(io.text()).toContain(
      'network.vpcCidr: must be an IPv4 CIDR block such as 10.0.0.0/16 (line 5)',
    );
  });

  it('plan refuses a setting known to fail (the security group rule quota), with its line (exit 2)', async () => {
    const file = join(tempDir(), 'wide.yaml');
    const cidrs = ['10.1.0.0/24', '10.2.0.0/24', '10.3.0.0/24'];
    writeFileSync(
      file,
      `stack: shop\nalerts:\n  email: ops@example.com\nnetwork:\n  allowedCidrs: [${cidrs.join(', ')}]\n`,
    );
    const { code, io } = await run([
      'plan',
      '--config',
      file,
      '--state',
      join(tempDir(), 's.json'),
    ]);
    expect(code).toBe(2);
    expect(io.text()).toMatch(
      /network\.allowedCidrs: the ALB security group needs 61 inbound rules .*\(line 5\)/,
    );
    expect(io.text()).toContain('nothing was sent to AWS');
  });

  it('an unknown option is a usage error (exit 2)', async () => {
    expect((await run(['plan', '--bogus'])).code).toBe(2);
  });

  it('up without a terminal and without --yes refuses instead of hanging (exit 2)', async () => {
    const { code, io } = await run(['up', '--state', join(tempDir(), 's.json')]);
    expect(code).toBe(2);
    expect(io.text()).toContain('--yes');
  });

  it('destroy without a terminal and without --yes refuses (exit 2) and sends nothing', async () => {
    const { code, io } = await run(['destroy', '--state', join(tempDir(), 's.json')]);
    expect(code).toBe(2);
    expect(io.text()).toContain('--yes');
  });

  it('destroy asks for the stack name and deletes nothing when it does not match', async () => {
    const io = recordingIo({ interactive: true, answers: ['cloudmrat'] });
    const { code } = await run(['destroy', '--state', join(tempDir(), 's.json')], io);
    expect(code).toBe(1);
    expect(io.text()).toContain('Not confirmed: nothing was deleted.');
  });

  it('destroy --dry-run lists the order with the seed cleanup steps first', async () => {
    const { code, io } = await run(['destroy', '--dry-run', '--state', join(tempDir(), 's.json')]);
    expect(code).toBe(0);
    expect(io.stdout[1]).toMatch(/^ {2}1\. /);
  });

  it('destroy --dry-run names the resources the state file records', async () => {
    const cloud = await new FakeCloud({ mode: 'instant' }).install();
    try {
      const state = join(tempDir(), 's.json');
      expect((await run(['up', '--yes', '--step', 'network.vpc', '--state', state])).code).toBe(0);
      const { code, io } = await run(['destroy', '--dry-run', '--state', state]);
      expect(code).toBe(0);
      const vpc = cloud.resources({ type: 'ec2:vpc', live: true }).find((r) => !r.system)!;
      expect(io.stdout[0]).toContain('with what the state file');
      expect(io.stdout.join('\n')).toMatch(
        new RegExp(`network\\.vpc: .*\\(done\\)\\n +vpcId: ${vpc.id}`),
      );
    } finally {
      cloud.uninstall();
    }
  });

  it('init --yes --email writes a config that plan accepts, and never overwrites without --force', async () => {
    const dir = tempDir();
    const file = join(dir, 'cloudmart.config.yaml');
    expect((await run(['init', '--yes', '--email', 'me@example.com', '--config', file])).code).toBe(
      0,
    );
    expect(readFileSync(file, 'utf8')).toContain('email: "me@example.com"');
    expect((await run(['plan', '--config', file])).code).toBe(0);
    const again = await run(['init', '--yes', '--email', 'x@example.com', '--config', file]);
    expect(again.code).toBe(2);
    expect(readFileSync(file, 'utf8')).toContain('me@example.com');
  });

  it('init asks in a terminal and writes what was answered', async () => {
    const file = join(tempDir(), 'c.yaml');
    const io = recordingIo({
      interactive: true,
      answers: ['ap-northeast-2', 'shop', 'a@b.io', '', '203.0.113.0/24', '0.5', true],
    });
    const { code } = await run(['init', '--config', file], io);
    expect(code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('stack: shop');
    expect(text).toContain('allowedCidrs: [203.0.113.0/24]');
    expect(text).toContain('usd: 0.5');
  });

  describe('init: the DR region and the zones follow the region', () => {
    /** A terminal that answers in order (undefined: the default), checking each validator. */
    const wizard = (answers: Array<string | boolean | undefined>) => {
      const asked: Array<{ message: string; default?: string }> = [];
      const queue = [...answers];
      const io = recordingIo({ interactive: true });
      const answer = (message: string, options: { default?: string | boolean }) => {
        asked.push({
          message,
          ...(options.default !== undefined ? { default: String(options.default) } : {}),
        });
        if (queue.length === 0) throw new Error(`no answer left for "${message}"`);
        return queue.shift() ?? options.default;
      };
      const prompter: Prompter = {
        confirm: async (message, options) => answer(message, options) as boolean,
        input: async (message, options) => {
          const value = answer(message, options) as string;
          const ok = options.validate?.(value) ?? true;
          if (ok !== true) throw new Error(`"${message}" refused ${value}: ${ok}`);
          return value;
        },
        select: () => Promise.reject(new Error('no select expected')),
      };
      return { io: { ...io, prompter }, asked };
    };
    // stack, email, domain, CIDRs, budget, write it.
    const rest = ['shop', 'a@b.io', '', '0.0.0.0/0', '0.8', true];

    it('Tokyo: backups go to Osaka and the zones are 1a and 1c, without asking', async () => {
      const file = join(tempDir(), 'c.yaml');
      const { io, asked } = wizard(['ap-northeast-1', ...rest]);
      expect((await run(['init', '--config', file], io)).code).toBe(0);
      const text = readFileSync(file, 'utf8');
      expect(text).toContain('drRegion: ap-northeast-3 #');
      expect(text).toContain('availabilityZones: [ap-northeast-1a, ap-northeast-1c] #');
      expect(asked).toHaveLength(7);
      expect(io.text()).toContain(
        'Availability zones ap-northeast-1a and ap-northeast-1c; RDS backups are copied to ap-northeast-3.',
      );
    });

    it('ca-central-1 gets zones it has (a and b, not c)', async () => {
      const file = join(tempDir(), 'c.yaml');
      const { io } = wizard(['ca-central-1', ...rest]);
      expect((await run(['init', '--config', file], io)).code).toBe(0);
      const text = readFileSync(file, 'utf8');
      expect(text).toContain('availabilityZones: [ca-central-1a, ca-central-1b] #');
      expect(text).toContain('drRegion: us-east-1 #');
    });

    it('us-west-1 asks for the zones (each account sees two of a, b, c), with no default', async () => {
      const file = join(tempDir(), 'c.yaml');
      const { io, asked } = wizard(['us-west-1', 'us-west-1b, us-west-1c', ...rest]);
      expect((await run(['init', '--config', file], io)).code).toBe(0);
      expect(asked[1]!.message).toContain('Two availability zones');
      expect(asked[1]!.message).toContain('aws ec2 describe-availability-zones --region us-west-1');
      expect(asked[1]!.default).toBeUndefined();
      expect(readFileSync(file, 'utf8')).toContain('availabilityZones: [us-west-1b, us-west-1c] #');
    });

    it('asks for the DR region where AWS documents no pair, suggesting one', async () => {
      const file = join(tempDir(), 'c.yaml');
      const { io, asked } = wizard(['eu-south-2', undefined, ...rest]);
      expect((await run(['init', '--config', file], io)).code).toBe(0);
      expect(asked[1]).toEqual({
        message: expect.stringContaining('RDS automated-backup copies'),
        default: 'eu-west-3',
      });
      const text = readFileSync(file, 'utf8');
      expect(text).toContain('drRegion: eu-west-3 #');
      expect(text).toContain('availabilityZones: [eu-south-2a, eu-south-2b] #');
    });

    it('refuses a region it does not know, and the region itself as DR, when they are typed', async () => {
      const unknown = wizard(['xx-nowhere-1']);
      await run(['init', '--config', join(tempDir(), 'c.yaml')], unknown.io);
      expect(unknown.io.text()).toContain(
        'refused xx-nowhere-1: xx-nowhere-1 is not an AWS region cloudmart knows',
      );

      const same = wizard(['eu-south-2', 'eu-south-2']);
      await run(['init', '--config', join(tempDir(), 'd.yaml')], same.io);
      expect(same.io.text()).toContain('refused eu-south-2: a region other than eu-south-2');
    });

    it('checks each answer when it is given, with the rules the file is checked with', async () => {
      for (const [answers, refusal] of [
        [['ap-northeast-2', 'Shop'], 'refused Shop: must start with a letter'],
        [['ap-northeast-2', 'shop', 'not-an-email'], 'refused not-an-email: must be an email'],
        [
          ['ap-northeast-2', 'shop', 'a@b.io', '', '10.0.0.0/33'],
          'refused 10.0.0.0/33: network.allowedCidrs.0: must be an IPv4 CIDR',
        ],
        [['ap-northeast-2', 'shop', 'a@b.io', '', '300.1.1.1/24'], 'refused 300.1.1.1/24'],
        [['ap-northeast-2', 'shop', 'a@b.io', '', '0.0.0.0/0', '-1'], 'refused -1'],
      ] as const) {
        const { io } = wizard([...answers]);
        const file = join(tempDir(), 'c.yaml');
        await run(['init', '--config', file], io);
        expect(io.text(), answers.join(' ')).toContain(refusal);
        expect(existsSync(file)).toBe(false);
      }
    });
  });

  it('status without a state file says what to run next', async () => {
    const state = join(tempDir(), 's.json');
    const { code, io } = await run(['status', '--state', state]);
    expect(code).toBe(0);
    expect(io.text()).toContain('cloudmart up');
    expect(existsSync(state)).toBe(false);
  });

  it('policy prints one valid JSON document on stdout, the explanations on stderr', async () => {
    const { code, io } = await run(['policy']);
    expect(code).toBe(0);
    const parsed = JSON.parse(io.stdout.join('\n')) as Record<string, unknown>;
    const docs = 'Statement' in parsed ? [parsed] : Object.values(parsed);
    for (const d of docs) expect(d).toMatchObject({ Version: '2012-10-17' });
    expect(io.stderr.join('\n')).toContain('aws iam create-policy');
  });

  it('policy prints policies made of the actions the steps declare', async () => {
    const { code, io } = await run(['policy', '--json']);
    expect(code).toBe(0);
    const { stack, policies } = JSON.parse(io.stdout.join('\n')) as {
      stack: string;
      policies: { document: { Statement: { Action: string[] }[] } }[];
    };
    expect(stack).toBe('cloudmart');
    const actions = policies.flatMap((p) => p.document.Statement.flatMap((s) => s.Action));
    for (const a of registry.flatMap((s) => s.actions)) expect(actions).toContain(a);
    expect(actions).not.toContain('*');
  });
});
