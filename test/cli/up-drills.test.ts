import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Prompter } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import type { InstanceDrillResult } from '../../src/drills/instance-drill.js';
import { runInstanceDrill } from '../../src/drills/instance-drill.js';
import type * as RdsDrill from '../../src/drills/rds-failover-drill.js';
import type { RdsFailoverDrillResult } from '../../src/drills/rds-failover-drill.js';
import { runRdsFailoverDrill } from '../../src/drills/rds-failover-drill.js';
import { instanceDrillResult } from '../drills/fixtures.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo, type RecordingIo } from '../helpers/io.js';

/**
 * "A drill never runs by surprise" (up.ts): `up --yes` leaves the failure drills out unless
 * `--drills` is given, and `up` in a terminal asks before them. The stack is built by the fake
 * cloud; the app behind the "ALB" is a local HTTP server (the load test of Phase 5 is real
 * HTTP). The drill runners are spies: a real drill waits minutes on the wall clock, and what
 * is tested here is whether `up` starts them at all. The drills themselves are tested in
 * test/drills/.
 */
vi.mock('../../src/drills/instance-drill.js', () => ({ runInstanceDrill: vi.fn() }));
vi.mock('../../src/drills/rds-failover-drill.js', async (importOriginal) => ({
  ...(await importOriginal<typeof RdsDrill>()),
  runRdsFailoverDrill: vi.fn(),
}));

const AT = '2026-01-01T00:00:00.000Z';
const INSTANCE: InstanceDrillResult = instanceDrillResult(AT);
const RDS: RdsFailoverDrillResult = {
  drill: 'rds-failover',
  at: AT,
  dryRun: false,
  plan: [],
  dbInstanceIdentifier: 'cloudmart-db',
  primaryAzBefore: 'ap-northeast-2a',
  standbyAzBefore: 'ap-northeast-2c',
  primaryAzAfter: 'ap-northeast-2c',
  failedOver: true,
  availableAfterSeconds: 60,
  appOutageSeconds: 30,
  appRecoveredAfterSeconds: 40,
  rtoSeconds: 60,
  marker: null,
  dataLost: false,
  rpoSeconds: 0,
  rpoOk: true,
  rpoEvidence: 'a marker row written 1 s before the failover was read back after it: no data lost',
  latestRestorableTime: AT,
  restorableLagSeconds: 100,
  restorableLagStatus: 'pass',
  probe: null,
  timedOut: false,
  timedOutAfterSeconds: null,
};

/** Commands that break something on purpose: none may reach AWS without consent. */
const DRILL_COMMANDS = [
  'TerminateInstances',
  'TerminateInstanceInAutoScalingGroup',
  'RebootDBInstance',
  'DeregisterTargets',
  'SuspendProcesses',
];

let cloud: FakeCloud;
let server: Server;
let built: string;

beforeAll(async () => {
  cloud = await new FakeCloud({ mode: 'instant' }).install();
  server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end('[]');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  // Phases 1-4 on the fake cloud, then the ALB's address pointed at the local server.
  built = join(tempDir(), 'built.state.json');
  const io = recordingIo();
  const code = await main(['node', 'cloudmart', 'up', '--yes', '--to', '4', '--state', built], io);
  expect(code, io.text()).toBe(0);
  const state = JSON.parse(readFileSync(built, 'utf8'));
  state.steps['app.alb'].outputs.dnsName = `127.0.0.1:${port}`;
  writeFileSync(built, JSON.stringify(state));
}, 60_000);

afterAll(async () => {
  cloud?.uninstall();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

beforeEach(() => {
  vi.mocked(runInstanceDrill).mockReset().mockResolvedValue(INSTANCE);
  vi.mocked(runRdsFailoverDrill).mockReset().mockResolvedValue(RDS);
});

/** `up` on a copy of the built stack's state; what it sent and what it saved. */
async function up(args: string[], io: RecordingIo = recordingIo()) {
  const state = join(tempDir(), 'state.json');
  copyFileSync(built, state);
  const mark = cloud.calls.length;
  const code = await main(['node', 'cloudmart', 'up', ...args, '--state', state], io);
  const sent = cloud.calls.slice(mark).map((c) => c.command);
  const saved = JSON.parse(readFileSync(state, 'utf8')) as {
    steps: Record<string, { status: string; outputs?: Record<string, unknown> } | undefined>;
  };
  return { code, io, sent, saved };
}

/** A scripted terminal that also keeps the questions it was asked. */
function terminal(answers: boolean[]): RecordingIo & { questions: string[]; defaults: unknown[] } {
  const io = recordingIo({ interactive: true, answers });
  const questions: string[] = [];
  const defaults: unknown[] = [];
  const prompter: Prompter = {
    ...io.prompter,
    confirm: (message, options) => {
      questions.push(message);
      defaults.push(options.default);
      return io.prompter.confirm(message, options);
    },
  };
  return { ...io, prompter, questions, defaults };
}

describe('up and the failure drills', () => {
  it('up --yes without --drills runs the load test but never the drills', async () => {
    const { code, io, sent, saved } = await up(['--yes', '--phase', '5']);

    expect(code, io.text()).toBe(0);
    expect(saved.steps['validation.load']?.status).toBe('done');
    expect(saved.steps['validation.drills']).toBeUndefined();
    expect(runInstanceDrill).not.toHaveBeenCalled();
    expect(runRdsFailoverDrill).not.toHaveBeenCalled();
    expect(sent.filter((c) => DRILL_COMMANDS.includes(c))).toEqual([]);
    // The summary says so, with what verify withholds and the command that runs them.
    expect(io.text()).toContain(
      'The failure drills were not run (--yes without --drills): verify withholds the 10 points of "Failure recovery test"',
    );
    expect(io.text()).toContain('cloudmart drill instance && cloudmart drill rds-failover');
  });

  it('up --yes --step validation.drills without --drills is a usage error (exit 2), before any AWS call', async () => {
    const { code, io, sent, saved } = await up(['--yes', '--step', 'validation.drills']);

    expect(code, io.text()).toBe(2);
    expect(io.stderr.join('\n')).toContain(
      '--step validation.drills names the failure drills, and under --yes they run only with --drills',
    );
    expect(io.stderr.join('\n')).toContain('Add --drills to run them');
    expect(io.text()).not.toContain('Nothing to do');
    expect(sent).toEqual([]);
    expect(saved.steps['validation.drills']).toBeUndefined();
    expect(runInstanceDrill).not.toHaveBeenCalled();
    expect(runRdsFailoverDrill).not.toHaveBeenCalled();
  });

  it('up --yes --drills --step validation.drills runs just the drills', async () => {
    const { code, io, saved } = await up(['--yes', '--drills', '--step', 'validation.drills']);

    expect(code, io.text()).toBe(0);
    expect(runInstanceDrill).toHaveBeenCalledTimes(1);
    expect(runRdsFailoverDrill).toHaveBeenCalledTimes(1);
    expect(saved.steps['validation.drills']?.status).toBe('done');
    expect(saved.steps['validation.load']).toBeUndefined();
  });

  it('up --yes --drills runs the instance drill, then the RDS failover drill, and keeps their figures', async () => {
    const { code, io, saved } = await up(['--yes', '--drills', '--phase', '5']);
    expect(io.text()).not.toContain('The failure drills were not run');

    expect(code, io.text()).toBe(0);
    expect(runInstanceDrill).toHaveBeenCalledTimes(1);
    expect(runRdsFailoverDrill).toHaveBeenCalledTimes(1);
    expect(vi.mocked(runInstanceDrill).mock.invocationCallOrder[0]).toBeLessThan(
      vi.mocked(runRdsFailoverDrill).mock.invocationCallOrder[0]!,
    );
    expect(saved.steps['validation.drills']).toMatchObject({
      status: 'done',
      outputs: {
        instance: { instanceId: 'i-a', rtoSeconds: 170, passed: true },
        'rds-failover': { rtoSeconds: 60, passed: true },
      },
    });
  });

  it('up in a terminal asks about the drills right after Phase 5 (default no) and skips them when declined', async () => {
    // 1st question: Phase 5 (yes); 2nd: the drills (no).
    const io = terminal([true, false]);
    const { code, sent, saved } = await up(['--phase', '5'], io);

    expect(code, io.text()).toBe(0);
    expect(io.questions).toHaveLength(2);
    expect(io.questions[0]).toBe('Run Phase 5?');
    expect(io.questions[1]).toMatch(/failure drills.*terminate one instance.*RDS failover/);
    expect(io.defaults[1]).toBe(false);
    expect(saved.steps['validation.load']?.status).toBe('done');
    expect(saved.steps['validation.drills']).toBeUndefined();
    expect(runInstanceDrill).not.toHaveBeenCalled();
    expect(runRdsFailoverDrill).not.toHaveBeenCalled();
    expect(sent.filter((c) => DRILL_COMMANDS.includes(c))).toEqual([]);
  });

  it('up in a terminal runs the drills only after a yes to that question', async () => {
    const io = terminal([true, true]);
    const { code, saved } = await up(['--phase', '5'], io);

    expect(code, io.text()).toBe(0);
    expect(io.questions[1]).toMatch(/failure drills/);
    expect(runInstanceDrill).toHaveBeenCalledTimes(1);
    expect(runRdsFailoverDrill).toHaveBeenCalledTimes(1);
    expect(saved.steps['validation.drills']?.status).toBe('done');
  });

  it('--drills alone does not skip the questions in a terminal', async () => {
    // Without --yes, the terminal still decides: "no" to the drills wins over --drills.
    const io = terminal([true, false]);
    const { code, saved } = await up(['--drills', '--phase', '5'], io);

    expect(code, io.text()).toBe(0);
    expect(io.questions[1]).toMatch(/failure drills/);
    expect(runInstanceDrill).not.toHaveBeenCalled();
    expect(saved.steps['validation.drills']).toBeUndefined();
  });
});
