import { describe, expect, it } from 'vitest';
import { JsonReporter, PlainReporter, TtyReporter } from '../../src/cli/reporters.js';
import { CloudmartError } from '../../src/errors.js';
import { recordingIo } from '../helpers/io.js';

describe('reporters', () => {
  it('plain: one line per transition, with the hint of a failure', () => {
    const io = recordingIo();
    const r = new PlainReporter(io);
    r.handle({ type: 'run-start', command: 'up', steps: ['a', 'b'], concurrency: 8 });
    r.handle({
      type: 'step-start',
      id: 'a',
      title: 'A',
      phase: 1,
      action: 'create',
      resumed: false,
    });
    r.handle({ type: 'step-progress', id: 'a', message: 'RDS cloudmart-db: creating (10s)' });
    r.handle({ type: 'step-progress', id: 'a', message: 'RDS cloudmart-db: creating (12s)' });
    r.handle({ type: 'step-done', id: 'a', action: 'create', durationMs: 61_000, resumed: false });
    r.handle({
      type: 'step-failed',
      id: 'b',
      action: 'create',
      durationMs: 1,
      error: new CloudmartError('ACCESS_DENIED', 'b failed: access denied', {
        hint: 'Run "cloudmart policy"',
      }),
    });
    const text = io.stderr.join('\n');
    expect(text).toContain('up: 2 steps, up to 8 at a time');
    // The same status twice within 30 s is printed once.
    expect(text.match(/creating/g)).toHaveLength(1);
    expect(text).toContain('✔ a ready (1m01s)');
    expect(text).toContain('✖ b failed: b failed: access denied\n    → Run "cloudmart policy"');
    expect(io.stdout).toEqual([]);
  });

  it('json: one JSON object per event on stdout, errors flattened to code and message', () => {
    const io = recordingIo();
    const r = new JsonReporter(io);
    r.handle({
      type: 'step-failed',
      id: 'b',
      action: 'teardown',
      durationMs: 5,
      error: new CloudmartError('TIMEOUT', 'too slow'),
    });
    const event = JSON.parse(io.stdout[0]!);
    expect(event).toMatchObject({
      type: 'step-failed',
      id: 'b',
      error: { code: 'TIMEOUT', message: 'too slow' },
    });
  });

  it('tty: a live line per running step with its progress; finished steps scroll above', () => {
    const io = recordingIo();
    const spinner = {
      text: '',
      isSpinning: false,
      start() {
        this.isSpinning = true;
      },
      stop() {
        this.isSpinning = false;
      },
      clear() {},
      render() {},
    };
    const r = new TtyReporter(io, () => spinner);
    r.handle({
      type: 'step-start',
      id: 'data.rds',
      title: 'RDS',
      phase: 1,
      action: 'create',
      resumed: false,
    });
    r.handle({
      type: 'step-start',
      id: 'network.nat',
      title: 'NAT',
      phase: 1,
      action: 'create',
      resumed: false,
    });
    r.handle({
      type: 'step-progress',
      id: 'data.rds',
      message: 'RDS cloudmart-db: creating (6m12s)',
    });
    expect(spinner.isSpinning).toBe(true);
    expect(spinner.text).toMatch(
      /^data\.rds \(0s\): RDS cloudmart-db: creating\n {2}network\.nat \(0s\)$/,
    );
    r.handle({
      type: 'step-done',
      id: 'network.nat',
      action: 'create',
      durationMs: 120_000,
      resumed: false,
    });
    expect(io.stderr).toContain('✔ network.nat ready (2m00s)');
    r.pause();
    expect(spinner.isSpinning).toBe(false);
    r.resume();
    expect(spinner.isSpinning).toBe(true);
    r.handle({
      type: 'step-done',
      id: 'data.rds',
      action: 'create',
      durationMs: 1,
      resumed: false,
    });
    expect(spinner.isSpinning).toBe(false);
    r.close();
  });
});
