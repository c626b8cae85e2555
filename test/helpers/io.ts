import { Writable } from 'node:stream';
import type { Io, Prompter } from '../../src/cli/io.js';
import { noTtyPrompter } from '../../src/cli/io.js';

export interface RecordingIo extends Io {
  stdout: string[];
  stderr: string[];
  /** What the live progress block (ora) drew. */
  progress: string[];
  text(): string;
}

/** An Io that records what the CLI writes; prompts answered from a script when interactive. */
export function recordingIo(
  options: { interactive?: boolean; answers?: unknown[] } = {},
): RecordingIo {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const progress: string[] = [];
  const answers = [...(options.answers ?? [])];
  const next = <T>(): Promise<T> => {
    if (answers.length === 0)
      return Promise.reject(new Error('test prompter: no scripted answer left'));
    return Promise.resolve(answers.shift() as T);
  };
  const scripted: Prompter = { confirm: () => next(), input: () => next(), select: () => next() };
  return {
    interactive: options.interactive ?? false,
    color: false,
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    prompter: options.interactive ? scripted : noTtyPrompter,
    progressStream: new Writable({
      write(chunk: Buffer, _enc, done) {
        progress.push(chunk.toString());
        done();
      },
    }),
    progress,
    stdout,
    stderr,
    text: () => [...stdout, ...stderr].join('\n'),
  };
}
