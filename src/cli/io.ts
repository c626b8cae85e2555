import { CloudmartError } from '../errors.js';

/**
 * The CLI's only door to the terminal. Data goes to stdout, messages and progress to stderr;
 * prompts happen only on a TTY, always carry their default, and `--yes` answers them.
 */
export interface Io {
  readonly interactive: boolean;
  readonly color: boolean;
  /** Data (tables, JSON, reports): stdout. */
  out(text: string): void;
  /** Messages, warnings, progress: stderr. */
  err(text: string): void;
  readonly prompter: Prompter;
  /** Where the live progress block (ora) draws; process.stderr unless a test gives its own. */
  readonly progressStream?: NodeJS.WritableStream;
}

export interface Prompter {
  confirm(message: string, options: { default: boolean }): Promise<boolean>;
  input(
    message: string,
    options: { default?: string; validate?: (value: string) => true | string },
  ): Promise<string>;
  select<T extends string>(
    message: string,
    options: { choices: Array<{ value: T; name?: string }>; default: T },
  ): Promise<T>;
}

/** A prompter for when no one can answer: refuses rather than hangs. */
export const noTtyPrompter: Prompter = {
  confirm: (message) => Promise.reject(noAnswer(message)),
  input: (message) => Promise.reject(noAnswer(message)),
  select: (message) => Promise.reject(noAnswer(message)),
};

function noAnswer(message: string): CloudmartError {
  return new CloudmartError('USAGE', `Cannot ask "${message}": there is no terminal to answer it`, {
    exitCode: 2,
    hint: 'Run it in a terminal, or pass --yes to accept the default answers.',
  });
}

/** The inquirer-backed prompter; loaded only when a prompt is actually shown. */
export const ttyPrompter: Prompter = {
  async confirm(message, options) {
    const { confirm } = await import('@inquirer/prompts');
    return guard(confirm({ message, default: options.default }, { output: process.stderr }));
  },
  async input(message, options) {
    const { input } = await import('@inquirer/prompts');
    return guard(
      input(
        {
          message,
          ...(options.default !== undefined ? { default: options.default } : {}),
          ...(options.validate ? { validate: options.validate } : {}),
        },
        { output: process.stderr },
      ),
    );
  },
  async select(message, options) {
    const { select } = await import('@inquirer/prompts');
    return guard(
      select(
        { message, choices: options.choices, default: options.default },
        { output: process.stderr },
      ),
    );
  },
};

async function guard<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if ((e as Error).name === 'ExitPromptError') {
      const { InterruptedError } = await import('../errors.js');
      throw new InterruptedError('Cancelled at the prompt');
    }
    throw e;
  }
}

/**
 * A write that survives its reader going away (`cloudmart plan | head`): the pipe's EPIPE
 * must not crash a run that is still building or deleting and has state to save, so once
 * the reader is gone the rest of that stream's output is dropped.
 */
export function pipeSafeWriter(stream: NodeJS.WriteStream): (text: string) => void {
  let gone = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') {
      gone = true;
      return;
    }
    throw e;
  });
  return (t) => {
    if (gone || stream.destroyed) return;
    stream.write(t.endsWith('\n') ? t : `${t}\n`);
  };
}

let stdoutWriter: ((text: string) => void) | undefined;
let stderrWriter: ((text: string) => void) | undefined;

export function processIo(): Io {
  stdoutWriter ??= pipeSafeWriter(process.stdout);
  stderrWriter ??= pipeSafeWriter(process.stderr);
  const interactive =
    Boolean(process.stdin.isTTY && process.stderr.isTTY) && process.env.CI === undefined;
  return {
    interactive,
    color: Boolean(process.stderr.isTTY) && process.env.NO_COLOR === undefined,
    out: stdoutWriter,
    err: stderrWriter,
    prompter: interactive ? ttyPrompter : noTtyPrompter,
    progressStream: process.stderr,
  };
}
