import type { EngineEvent } from '../engine/events.js';
import { formatDuration } from '../aws/wait.js';
import { CloudmartError } from '../errors.js';
import type { Io } from './io.js';

export interface Reporter {
  handle(event: EngineEvent): void;
  /** Stop spinners and timers. */
  close(): void;
  /** Hold the live display while a prompt is on screen. */
  pause?(): void;
  resume?(): void;
}

const mark = { done: '✔', failed: '✖', skipped: '–', warn: '!' };

function verb(action: string, resumed: boolean): string {
  if (action === 'teardown') return 'removed';
  if (action === 'verify') return 'checked';
  return resumed ? 'up to date' : 'ready';
}

function errorLine(error: Error): string {
  const first = error.message.split('\n')[0] ?? '';
  return error instanceof CloudmartError && error.hint ? `${first}\n    → ${error.hint}` : first;
}

/** A stopped step is not a failure: Ctrl-C's hint is printed once, at the end of the run. */
function failedLine(id: string, error: Error): string {
  if (error instanceof CloudmartError && error.code === 'INTERRUPTED') return `■ ${id} stopped`;
  return `${mark.failed} ${id} failed: ${errorLine(error)}`;
}

/** Plain lines for CI and pipes: one line per transition, progress at most every 30 s per step. */
export class PlainReporter implements Reporter {
  private readonly lastProgress = new Map<string, { at: number; message: string }>();
  constructor(private readonly io: Io) {}

  handle(event: EngineEvent): void {
    const t = new Date().toISOString().slice(11, 19);
    const line = (s: string) => this.io.err(`[${t}] ${s}`);
    switch (event.type) {
      case 'run-start':
        line(`${event.command}: ${event.steps.length} steps, up to ${event.concurrency} at a time`);
        break;
      case 'phase-start':
        line(`Phase ${event.phase}`);
        break;
      case 'step-start':
        line(
          `  ${event.id}: ${event.action === 'teardown' ? 'removing' : event.resumed ? 'checking' : 'starting'}`,
        );
        break;
      case 'step-progress': {
        const prev = this.lastProgress.get(event.id);
        const now = Date.now();
        const status = event.message.replace(/\s*\(\d+m?\d*s\)$/, '');
        if (!prev || now - prev.at > 30_000 || prev.message !== status) {
          this.lastProgress.set(event.id, { at: now, message: status });
          line(`  ${event.id}: ${event.message}`);
        }
        break;
      }
      case 'step-done':
        line(
          `${mark.done} ${event.id} ${verb(event.action, event.resumed)} (${formatDuration(event.durationMs)})`,
        );
        break;
      case 'step-skipped':
        line(`${mark.skipped} ${event.id} skipped: ${event.reason}`);
        break;
      case 'step-failed':
        line(failedLine(event.id, event.error));
        break;
      case 'warning':
        line(`${mark.warn} ${event.id ? `${event.id}: ` : ''}${event.message}`);
        break;
      case 'checks':
        break;
      case 'run-done':
        line(
          `${event.command} ${event.interrupted ? 'interrupted' : event.ok ? 'finished' : 'finished with problems'} in ${formatDuration(event.durationMs)}`,
        );
        break;
    }
  }

  close(): void {}
}

/** NDJSON events on stdout, for machines. Errors are flattened to code + message. */
export class JsonReporter implements Reporter {
  constructor(private readonly io: Io) {}
  handle(event: EngineEvent): void {
    const e =
      event.type === 'step-failed'
        ? {
            ...event,
            error: {
              code: (event.error as CloudmartError).code ?? 'ERROR',
              message: event.error.message,
            },
          }
        : event;
    this.io.out(JSON.stringify({ ...e, at: new Date().toISOString() }));
  }
  close(): void {}
}

/**
 * A live block on a TTY (ora): one line per running step with its elapsed time and latest
 * progress ("data.rds: RDS cloudmart-db: creating (6m12s)"); finished steps scroll above it.
 */
export class TtyReporter implements Reporter {
  private readonly running = new Map<string, { started: number; message: string }>();
  private spinner:
    | {
        text: string;
        start(): unknown;
        stop(): unknown;
        clear(): unknown;
        render(): unknown;
        isSpinning: boolean;
      }
    | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly plain: PlainReporter;

  constructor(
    private readonly io: Io,
    private readonly ora: (opts: {
      text: string;
      stream: NodeJS.WritableStream;
    }) => TtyReporter['spinner'],
  ) {
    this.plain = new PlainReporter(io);
  }

  private print(text: string): void {
    if (this.spinner?.isSpinning) {
      this.spinner.clear();
      this.io.err(text);
      this.spinner.render();
    } else {
      this.io.err(text);
    }
  }

  private paused = false;

  private refresh(): void {
    if (this.paused) return;
    if (this.running.size === 0) {
      if (this.spinner?.isSpinning) this.spinner.stop();
      return;
    }
    const now = Date.now();
    const lines = [...this.running].map(
      ([id, r]) =>
        `${id} (${formatDuration(now - r.started)})${r.message ? `: ${r.message.replace(/\s*\(\d+m?\d*s\)$/, '')}` : ''}`,
    );
    const text = lines.join('\n  ');
    if (!this.spinner)
      this.spinner = this.ora({ text, stream: this.io.progressStream ?? process.stderr });
    this.spinner!.text = text;
    if (!this.spinner!.isSpinning) this.spinner!.start();
    this.timer ??= setInterval(() => this.refresh(), 1000);
  }

  handle(event: EngineEvent): void {
    switch (event.type) {
      case 'step-start':
        this.running.set(event.id, {
          started: Date.now(),
          message: event.resumed ? 'checking' : '',
        });
        break;
      case 'step-progress': {
        const r = this.running.get(event.id);
        if (r) r.message = event.message;
        break;
      }
      case 'step-done':
        this.running.delete(event.id);
        this.print(
          `${mark.done} ${event.id} ${verb(event.action, event.resumed)} (${formatDuration(event.durationMs)})`,
        );
        break;
      case 'step-failed':
        this.running.delete(event.id);
        this.print(failedLine(event.id, event.error));
        break;
      case 'step-skipped':
        this.print(`${mark.skipped} ${event.id} skipped: ${event.reason}`);
        break;
      case 'warning':
        this.print(`${mark.warn} ${event.id ? `${event.id}: ` : ''}${event.message}`);
        break;
      case 'phase-start':
        this.print(`Phase ${event.phase}`);
        break;
      case 'run-done':
        this.close();
        this.plain.handle(event);
        return;
      default:
        return;
    }
    this.refresh();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.spinner?.isSpinning) this.spinner.stop();
  }

  pause(): void {
    this.paused = true;
    this.close();
  }

  resume(): void {
    this.paused = false;
    this.refresh();
  }
}

export async function createReporter(io: Io, json: boolean): Promise<Reporter> {
  if (json) return new JsonReporter(io);
  if (!io.interactive) return new PlainReporter(io);
  const { default: ora } = await import('ora');
  return new TtyReporter(io, (opts) => ora({ ...opts, discardStdin: false }));
}
