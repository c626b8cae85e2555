import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ACCOUNT, strictMock } from '../helpers/context.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';
import { HEALTHY, OUTPUTS, group, instance, target, targets } from './fixtures.js';

const run = async (args: string[], io = recordingIo()) => ({
  code: await main(['node', 'cloudmart', ...args], io),
  io,
});

describe('cloudmart drill', () => {
  let server: Server;
  let state: string;
  let asg: ReturnType<typeof strictMock>;
  let elb: ReturnType<typeof strictMock>;
  let sts: ReturnType<typeof strictMock>;

  beforeEach(async () => {
    // The app behind the "ALB": a local server, so the probe is real HTTP.
    server = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    state = join(tempDir(), 'state.json');
    const at = new Date().toISOString();
    const done = (outputs: object) => ({ status: 'done', attempts: 1, outputs });
    writeFileSync(
      state,
      JSON.stringify({
        version: 1,
        stack: 'cloudmart',
        region: 'ap-northeast-2',
        createdAt: at,
        updatedAt: at,
        steps: {
          'app.alb': done({ ...OUTPUTS['app.alb'], dnsName: `127.0.0.1:${port}` }),
          'app.asg': done(OUTPUTS['app.asg']!),
          'data.rds': done(OUTPUTS['data.rds']!),
        },
        runs: [],
        results: {},
      }),
    );
    sts = strictMock(STSClient);
    sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT });
    asg = strictMock(AutoScalingClient);
    elb = strictMock(ElasticLoadBalancingV2Client);
    strictMock(RDSClient).on(DescribeDBInstancesCommand).resolves(HEALTHY.db);
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('refuses without a terminal and without --yes (exit 2), before any AWS call', async () => {
    const { code, io } = await run(['drill', 'instance', '--state', state]);
    expect(code).toBe(2);
    expect(io.text()).toContain('--yes');
    expect(sts.calls()).toHaveLength(0);
  });

  it('rejects an unknown drill and --instance-id on another drill (exit 2)', async () => {
    expect((await run(['drill', 'volcano', '--yes', '--state', state])).code).toBe(2);
    expect(
      (await run(['drill', 'rds-failover', '--instance-id', 'i-a', '--yes', '--state', state]))
        .code,
    ).toBe(2);
  });

  it('--dry-run checks the stack, prints the plan and changes nothing', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves(HEALTHY.group);
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
    const { code, io } = await run(['drill', 'instance', '--dry-run', '--state', state]);
    expect(code).toBe(0);
    expect(io.stdout.join('\n')).toContain('1. Terminate i-a');
    expect(asg.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(0);
    expect(JSON.parse(readFileSync(state, 'utf8')).results.drills).toBeUndefined();
  });

  it('asks for confirmation on a terminal and changes nothing when the answer is no', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves(HEALTHY.group);
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
    const io = recordingIo({ interactive: true, answers: [false] });
    const { code } = await run(['drill', 'instance', '--state', state], io);
    expect(code).toBe(1);
    expect(io.text()).toContain('Not confirmed: nothing was changed.');
    expect(asg.commandCalls(TerminateInstanceInAutoScalingGroupCommand)).toHaveLength(0);
  });

  it('--yes runs the drill, prints the figures and records them with the RTO', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group) // dry-run preview
      .resolvesOnce(HEALTHY.group) // preflight
      .resolves(group([instance('i-b', 'ap-northeast-2c'), instance('i-c', 'ap-northeast-2a')]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolvesOnce(HEALTHY.targets)
      .resolves(targets(target('i-b', 'healthy'), target('i-c', 'healthy')));
    asg.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});

    const { code, io } = await run(['drill', 'instance', '--yes', '--json', '--state', state]);

    expect(code).toBe(0);
    const out = JSON.parse(io.stdout.join('\n'));
    expect(out).toMatchObject({
      drill: 'instance',
      instanceId: 'i-a',
      replacementId: 'i-c',
      rtoSeconds: 0,
      verdict: { rtoOk: true },
    });
    expect(out.probe.failed).toBe(0);
    const saved = JSON.parse(readFileSync(state, 'utf8'));
    expect(saved.results.drills.instance).toMatchObject({
      at: out.at,
      rtoSeconds: 0,
      instanceId: 'i-a',
      failedRequests: 0,
      passed: true,
    });
    expect(existsSync(`${state}.lock`)).toBe(false);
  });

  it('without a state file says to build the stack first (exit 2)', async () => {
    const { code, io } = await run([
      'drill',
      'instance',
      '--yes',
      '--state',
      join(tempDir(), 'none.json'),
    ]);
    expect(code).toBe(2);
    expect(io.text()).toContain('cloudmart up --phase 1');
  });
});
