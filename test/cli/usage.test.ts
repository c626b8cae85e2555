import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { destroyOrder } from '../../src/cli/commands/destroy.js';
import { buildProgram, main } from '../../src/cli/main.js';
import { outputPathError } from '../../src/cli/output.js';
import { registry } from '../../src/steps/registry.js';
import { FakeCloud } from '../helpers/fake-cloud/index.js';
import { tempDir } from '../helpers/engine.js';
import { recordingIo } from '../helpers/io.js';

const run = async (args: string[]) => {
  const io = recordingIo();
  const code = await main(['node', 'cloudmart', ...args], io);
  return { code, io, err: io.stderr.join('\n') };
};

/** The options commander hands to a command's action, without running it. */
async function parsed(args: string[]): Promise<Record<string, unknown>> {
  const io = recordingIo();
  const program = buildProgram(io, () => undefined);
  let seen: Record<string, unknown> | undefined;
  for (const c of program.commands)
    c.hook('preAction', (_cmd, action) => {
      seen = action.opts();
      throw new Error('stop before the action');
    });
  await expect(program.parseAsync(['node', 'cloudmart', ...args])).rejects.toThrow(
    'stop before the action',
  );
  return seen!;
}

describe('step ids', () => {
  it('an unknown --step gets a did-you-mean (exit 2)', async () => {
    const { code, err } = await run([
      'up',
      '--yes',
      '--step',
      'data.rdss',
      '--state',
      join(tempDir(), 's.json'),
    ]);
    expect(code).toBe(2);
    expect(err).toContain('Unknown step "data.rdss"; did you mean "data.rds"?');
  });
});

describe('phase options', () => {
  it('--to takes one phase number from 1 to 5; a list or anything else is a usage error', async () => {
    for (const bad of ['1,2', '0', '6', '1.5', '', 'x', '0x1', '1e0', '-1']) {
      const state = join(tempDir(), 's.json');
      const { code, err } = await run(['up', '--yes', '--to', bad, '--state', state]);
      expect(code, bad).toBe(2);
      expect(err, bad).toContain("option '--to <n>' argument");
      expect(err, bad).toContain('one phase number from 1 to 5');
      expect(existsSync(state), bad).toBe(false);
    }
    expect((await parsed(['up', '--to', '3'])).to).toBe(3);
    expect((await parsed(['up', '--to', ' 5 '])).to).toBe(5);
  });

  it('--phase takes numbers from 1 to 5; a repeated --phase adds to the list', async () => {
    for (const bad of ['1,,2', '0', '1,6', '0x1', '1e0', '', '1.0', 'all']) {
      const { code, err } = await run(['verify', '--phase', bad]);
      expect(code, bad).toBe(2);
      expect(err, bad).toContain('phases are numbers from 1 to 5');
    }
    expect((await parsed(['up', '--phase', '3,1'])).phase).toEqual([1, 3]);
    expect((await parsed(['up', '--phase', '2', '--phase', '4,2'])).phase).toEqual([2, 4]);
    expect((await parsed(['verify', '--phase', '1', '--phase', '5'])).phase).toEqual([1, 5]);
  });

  it('--concurrency takes a whole number of at least 1', async () => {
    for (const bad of ['0', '1.5', '0x10', '1e3', '', '-2']) {
      const { code } = await run(['up', '--yes', '--concurrency', bad]);
      expect(code, bad).toBe(2);
    }
    expect((await parsed(['destroy', '--concurrency', '16'])).concurrency).toBe(16);
  });
});

describe('destroy --dry-run --json', () => {
  it('prints one JSON object: every step in teardown order with its level, phase, title and what it deletes', async () => {
    const state = join(tempDir(), 's.json');
    const { code, io } = await run(['destroy', '--dry-run', '--json', '--state', state]);
    expect(code).toBe(0);
    const plan = JSON.parse(io.stdout.join('\n')) as {
      stack: string;
      region: string;
      steps: {
        level: number;
        id: string;
        phase: number;
        title: string;
        recorded: string;
        deletes: string[];
      }[];
    };
    expect(plan.stack).toBe('cloudmart');
    expect(plan.region).toBe('ap-northeast-2');
    // The same order as the text listing.
    const text = await run(['destroy', '--dry-run', '--state', state]);
    const listed = text.io.stdout
      .slice(1)
      .map((l) => /^ {2}(\d+)\. ([\w.-]+): /.exec(l))
      .filter((m) => m !== null)
      .map((m) => ({ level: Number(m[1]), id: m[2]! }));
    expect(plan.steps.map((s) => s.id)).toEqual(listed.map((l) => l.id));
    expect(plan.steps.map((s) => s.level)).toEqual(listed.map((l) => l.level));
    const levels: string[][] = [];
    for (const l of listed) (levels[l.level - 1] ??= []).push(l.id);
    expect(levels).toEqual(destroyOrder(plan.steps.map((s) => s.id)));
    // Without a state file it says so, and what each step deletes if it exists.
    expect(text.io.stdout[0]).toContain('records nothing');
    expect(text.io.stdout).toContain(
      '       if it exists: VPC cloudmart-vpc 10.0.0.0/16 with DNS support and DNS hostnames',
    );
    for (const s of plan.steps) {
      const step = registry.find((r) => r.id === s.id)!;
      expect(s).toMatchObject({ phase: step.phase, title: step.title, recorded: 'none' });
      expect(s.deletes.length, s.id).toBeGreaterThan(0);
    }
    expect(plan.steps.find((s) => s.id === 'network.vpc')?.deletes).toEqual([
      'VPC cloudmart-vpc 10.0.0.0/16 with DNS support and DNS hostnames',
    ]);
    // A dry run takes no lock and writes no state.
    expect(existsSync(state)).toBe(false);
    expect(existsSync(`${state}.lock`)).toBe(false);
  });
});

describe('output paths the user gives', () => {
  let cloud: FakeCloud;
  beforeEach(async () => {
    cloud = await new FakeCloud({ mode: 'instant' }).install();
  });
  afterEach(() => cloud.uninstall());

  const usage = (r: { code: number; err: string }, message: string) => {
    expect(r.code, r.err).toBe(2);
    expect(r.err).toContain(`✖ ${message}`);
    expect(r.err).toContain('→ Choose another path, or create the folder first.');
    expect(r.err).not.toContain('Unexpected error');
  };

  it('init --config in a folder that does not exist', async () => {
    const dir = tempDir();
    const file = join(dir, 'sub', 'c.yaml');
    const r = await run(['init', '--yes', '--email', 'a@b.co', '--config', file]);
    usage(r, `Cannot write the config to ${file}: the folder ${join(dir, 'sub')} does not exist`);
    expect(existsSync(join(dir, 'sub'))).toBe(false);
  });

  it('init in a terminal into a missing folder fails before asking anything', async () => {
    const dir = tempDir();
    const file = join(dir, 'sub', 'c.yaml');
    // No scripted answer: a question would fail the run with "no scripted answer left".
    const io = recordingIo({ interactive: true, answers: [] });
    const code = await main(['node', 'cloudmart', 'init', '--config', file], io);
    usage(
      { code, err: io.stderr.join('\n') },
      `Cannot write the config to ${file}: the folder ${join(dir, 'sub')} does not exist`,
    );
  });

  it('init --force --config on a folder', async () => {
    const dir = tempDir();
    const r = await run(['init', '--yes', '--force', '--email', 'a@b.co', '--config', dir]);
    usage(r, `Cannot write the config to ${dir}: it is a folder`);
  });

  it('schema -o into a missing folder, onto a folder, under a file', async () => {
    const dir = tempDir();
    const missing = join(dir, 'nonexistent', 'x.json');
    usage(
      await run(['schema', '-o', missing]),
      `Cannot write the JSON Schema to ${missing}: the folder ${join(dir, 'nonexistent')} does not exist`,
    );
    usage(
      await run(['schema', '-o', dir]),
      `Cannot write the JSON Schema to ${dir}: it is a folder`,
    );
    const file = join(dir, 'f');
    writeFileSync(file, '');
    usage(
      await run(['schema', '-o', join(file, 'x.json')]),
      `Cannot write the JSON Schema to ${join(file, 'x.json')}: a part of that path is a file, not a folder`,
    );
  });

  it('policy --output-dir on a file, or under one', async () => {
    const dir = tempDir();
    const file = join(dir, 'f');
    writeFileSync(file, 'keep');
    usage(
      await run(['policy', '--output-dir', file]),
      `Cannot write the policy folder to ${file}: it exists and is not a folder`,
    );
    usage(
      await run(['policy', '--output-dir', join(file, 'sub')]),
      `Cannot write the policy folder to ${join(file, 'sub')}: a part of that path is a file, not a folder`,
    );
    // A new folder is still created, with every policy in it.
    const out = join(dir, 'a', 'b');
    expect((await run(['policy', '--output-dir', out])).code).toBe(0);
    expect(readdirSync(out).length).toBeGreaterThan(0);
  });

  it('verify --report onto a file or below one: a usage error before any AWS call; a missing folder is created', async () => {
    const dir = tempDir();
    const state = join(dir, 's.json');
    const file = join(dir, 'r.md');
    writeFileSync(file, 'not a folder');
    usage(
      await run(['verify', '--report', file, '--state', state]),
      `Cannot write the report folder to ${file}: it exists and is not a folder`,
    );
    usage(
      await run(['verify', '--json', '--report', join(file, 'sub'), '--state', state]),
      `Cannot write the report folder to ${join(file, 'sub')}: a part of that path is a file, not a folder`,
    );
    const lang = await run([
      'verify',
      '--report',
      join(dir, 'x'),
      '--lang',
      'fr',
      '--state',
      state,
    ]);
    expect(lang.code).toBe(2);
    expect(lang.err).toContain(
      "option '--lang <lang>' argument 'fr' is invalid. en (English) or ko (Korean)",
    );
    expect(cloud.calls).toEqual([]);
  });

  it('maps permission and read-only errors; any other error stays unexpected', () => {
    const err = (code: string) => Object.assign(new Error(code), { code });
    expect(outputPathError(err('EACCES'), '/etc/x', 'the config')).toMatchObject({
      code: 'USAGE',
      exitCode: 2,
      message: 'Cannot write the config to /etc/x: permission denied',
    });
    expect(outputPathError(err('EROFS'), '/ro/x', 'the config')?.message).toBe(
      'Cannot write the config to /ro/x: the file system is read-only',
    );
    expect(outputPathError(err('EIO'), '/x', 'the config')).toBeUndefined();
    expect(outputPathError(new Error('no code'), '/x', 'the config')).toBeUndefined();
  });
});
