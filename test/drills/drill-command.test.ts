import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
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
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { DrillContext } from '../../src/drills/context.js';
import * as drills from '../../src/drills/index.js';
import { emptyState } from '../../src/state/store.js';
import { resultChecks } from '../../src/verify/criteria.js';
import { ACCOUNT, strictMock, testConfig } from '../helpers/context.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';
import { HEALTHY, OUTPUTS, group, instance, target, targets } from './fixtures.js';

// The drill runner, spied on so one test can put the drill on a fake clock (a real 15-minute
// timeout would take 15 minutes); every other test runs the real thing.
vi.mock('../../src/drills/index.js', async (importOriginal) => {
  const actual = await importOriginal<typeof drills>();
  return { ...actual, runDrill: vi.fn(actual.runDrill) };
});
const { runDrill: realRunDrill } = await vi.importActual<typeof drills>(
  '../../src/drills/index.js',
);

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
  let ec2: ReturnType<typeof strictMock>;

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
    ec2 = strictMock(EC2Client);
    ec2.on(TerminateInstancesCommand).resolves({
      TerminatingInstances: [
        { InstanceId: 'i-a', CurrentState: { Code: 32, Name: 'shutting-down' } },
      ],
    });
    strictMock(RDSClient).on(DescribeDBInstancesCommand).resolves(HEALTHY.db);
  });

  afterEach(async () => {
    vi.mocked(drills.runDrill).mockImplementation(realRunDrill);
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
    expect(ec2.calls()).toHaveLength(0);
    expect(JSON.parse(readFileSync(state, 'utf8')).results.drills).toBeUndefined();
  });

  it('asks for confirmation on a terminal and changes nothing when the answer is no', async () => {
    asg.on(DescribeAutoScalingGroupsCommand).resolves(HEALTHY.group);
    elb.on(DescribeTargetHealthCommand).resolves(HEALTHY.targets);
    const io = recordingIo({ interactive: true, answers: [false] });
    const { code } = await run(['drill', 'instance', '--state', state], io);
    expect(code).toBe(1);
    expect(io.text()).toContain('Not confirmed: nothing was changed.');
    expect(ec2.calls()).toHaveLength(0);
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
    expect(ec2.commandCalls(TerminateInstancesCommand)[0]!.args[0].input).toEqual({
      InstanceIds: ['i-a'],
    });
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

  it('a lock held by a live run on another machine: refused with a hint naming "drill instance" with --force-unlock, which the drill accepts and runs with', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group) // refused run's preview
      .resolvesOnce(HEALTHY.group) // dry-run preview
      .resolvesOnce(HEALTHY.group) // preflight
      .resolves(group([instance('i-b', 'ap-northeast-2c'), instance('i-c', 'ap-northeast-2a')]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolvesOnce(HEALTHY.targets)
      .resolvesOnce(HEALTHY.targets)
      .resolves(targets(target('i-b', 'healthy'), target('i-c', 'healthy')));
    const lock = JSON.stringify({
      pid: 1,
      host: 'laptop-2',
      command: 'up',
      startedAt: '2026-12-07T22:00:00.000Z',
    });
    writeFileSync(`${state}.lock`, lock);
    const refused = await run(['drill', 'instance', '--yes', '--state', state]);
    expect(refused.code).toBe(1);
    expect(refused.io.text()).toContain('run "cloudmart drill instance" again with --force-unlock');
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
    expect(readFileSync(`${state}.lock`, 'utf8')).toBe(lock);
    const forced = await run(['drill', 'instance', '--yes', '--state', state, '--force-unlock']);
    expect(forced.code, forced.io.text()).toBe(0);
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(1);
    expect(JSON.parse(readFileSync(state, 'utf8')).results.drills.instance).toBeDefined();
    expect(existsSync(`${state}.lock`)).toBe(false);
  });

  it('records a drill that timed out as failed, so verify shows a failed RTO, and exits 1', async () => {
    asg
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce(HEALTHY.group) // dry-run preview
      .resolvesOnce(HEALTHY.group) // preflight
      .resolves(group([instance('i-b', 'ap-northeast-2c'), instance('i-c', 'ap-northeast-2a')]));
    elb
      .on(DescribeTargetHealthCommand)
      .resolvesOnce(HEALTHY.targets)
      .resolvesOnce(HEALTHY.targets)
      // The replacement never passes its health checks.
      .resolves(
        targets(
          target('i-b', 'healthy'),
          target('i-c', 'unhealthy', 'Target.ResponseCodeMismatch'),
        ),
      );
    // The real drill on a fake clock that jumps with every sleep; probes answer 200 at once.
    let clock = Date.now();
    vi.mocked(drills.runDrill).mockImplementation((name, ctx: DrillContext, options) =>
      realRunDrill(
        name,
        {
          ...ctx,
          now: () => clock,
          sleep: (ms) => {
            clock += ms;
            return Promise.resolve();
          },
          probe: () => Promise.resolve({ ok: true, status: 200, ms: 1 }),
        },
        options,
      ),
    );

    const { code, io } = await run(['drill', 'instance', '--yes', '--state', state]);

    expect(code).toBe(1);
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(1);
    const text = io.text();
    expect(text).toContain(
      'Replacement         i-c (ap-northeast-2a): InService after 0 s, healthy after —',
    );
    expect(text).toContain('✖ RTO < 5 min: not reached: gave up after 900 s');
    expect(text).toContain('✖ Gave up waiting for replacement of i-a after 15m00s');
    const saved = JSON.parse(readFileSync(state, 'utf8'));
    expect(saved.results.drills.instance).toMatchObject({
      instanceId: 'i-a',
      replacementId: 'i-c',
      rtoSeconds: null,
      timedOut: true,
      timedOutAfterSeconds: 900,
      passed: false,
    });
    expect(existsSync(`${state}.lock`)).toBe(false);
    // verify reads it as a failed recovery, not "drill not run yet".
    const check = resultChecks(
      { ...emptyState('cloudmart', 'ap-northeast-2'), ...saved },
      testConfig(),
    ).find((c) => c.id === 'criteria.recovery.instance');
    expect(check).toMatchObject({
      status: 'fail',
      evidence: expect.stringContaining('the drill gave up after 900 s'),
    });
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
