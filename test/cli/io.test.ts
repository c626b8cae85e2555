import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pipeSafeWriter } from '../../src/cli/io.js';

/** A stream whose reader goes away after `keep` writes, as `cloudmart plan | head -1` does. */
function closingPipe(keep: number, code = 'EPIPE') {
  const got: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (got.length >= keep) {
        const e: NodeJS.ErrnoException = new Error(`write ${code}`);
        e.code = code;
        done(e);
        return;
      }
      got.push(chunk.toString());
      done();
    },
  });
  return { stream: stream as unknown as NodeJS.WriteStream, got };
}

describe('pipeSafeWriter', () => {
  it('drops the rest of the output once the reader is gone, instead of crashing the run', async () => {
    const { stream, got } = closingPipe(1);
    const write = pipeSafeWriter(stream);
    write('first');
    write('second'); // EPIPE
    await new Promise((r) => setImmediate(r));
    expect(() => write('third')).not.toThrow();
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['first\n']);
  });

  it('still fails loudly on any other stream error', async () => {
    const { stream } = closingPipe(0, 'EIO');
    pipeSafeWriter(stream);
    const errors: unknown[] = [];
    // The writer rethrows from the stream's error event: catch it where it surfaces.
    const listeners = stream.listeners('error') as ((e: Error) => void)[];
    stream.removeAllListeners('error');
    stream.on('error', (e) => {
      try {
        listeners.forEach((l) => l(e));
      } catch (thrown) {
        errors.push(thrown);
      }
    });
    stream.write('x');
    await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('EIO');
  });
});
