import { InterruptedError } from '../../../src/errors.js';

export type ClockMode = 'instant' | 'latency';

export interface ClockState {
  mode: ClockMode;
  /** Real milliseconds per simulated minute (latency mode). */
  msPerMinute: number;
  /** Simulated epoch ms when the state was taken. */
  now: number;
}

interface Sleeper {
  wake: number;
  seq: number;
  resolve: () => void;
  reject: (e: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Simulated time.
 *
 * `latency`: runs `60_000 / msPerMinute` times faster than the wall clock (default 600×: one
 * simulated minute per 100 ms real) and `sleep` really waits the scaled time.
 *
 * `instant`: virtual time that only moves when the system is quiet. A sleeper registers its
 * wake time; once no AWS call has been made for a couple of real milliseconds (everybody is
 * waiting), the clock jumps to the earliest wake time and releases that sleeper. So parallel
 * sleeps share time instead of adding it up, a step that polls for another step's work never
 * times out while that other step is busy, and a wait that only time can end (a timing
 * overridden to a minute) still ends, quickly.
 */
export class Clock {
  readonly mode: ClockMode;
  readonly msPerMinute: number;
  /** Real ms without an AWS call after which instant time may move. */
  quietMs = 2;
  private base: number;
  private realBase: number;
  private sleepers: Sleeper[] = [];
  private sleepSeq = 0;
  private lastActivity = performance.now();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(mode: ClockMode, msPerMinute: number, start: number) {
    this.mode = mode;
    this.msPerMinute = msPerMinute;
    this.base = start;
    this.realBase = performance.now();
  }

  /** Simulated ms per real ms (latency mode). */
  get speed(): number {
    return 60_000 / this.msPerMinute;
  }

  now(): number {
    if (this.mode === 'instant') return Math.round(this.base);
    return Math.round(this.base + (performance.now() - this.realBase) * this.speed);
  }

  /** The cloud was called: instant time holds still while calls keep coming. */
  touch(): void {
    this.lastActivity = performance.now();
  }

  /** Move simulated time forward (instant mode; latency mode shifts its origin). */
  advance(ms: number): void {
    this.base += Math.max(0, ms);
    this.release();
  }

  /**
   * Sleep `ms` SIMULATED milliseconds; rejects with the engine's InterruptedError on abort.
   * Latency mode waits `ms / speed` real ms; instant mode see the class comment.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new InterruptedError());
    if (this.mode === 'instant') return this.instantSleep(ms, signal);
    // Node timers may fire up to a millisecond early, so re-arm until simulated time
    // has really moved `ms`: a caller may rely on `now()` having advanced that far.
    const wake = this.now() + Math.max(0, ms);
    return new Promise((resolve, reject) => {
      let t: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        clearTimeout(t);
        reject(new InterruptedError());
      };
      const arm = () => {
        const left = wake - this.now();
        if (left <= 0) {
          signal?.removeEventListener('abort', onAbort);
          resolve();
          return;
        }
        t = setTimeout(arm, Math.max(1, left / this.speed));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      arm();
    });
  }

  /** Sleepers waiting for instant time to move (for diagnostics). */
  get waiting(): number {
    return this.sleepers.length;
  }

  state(): ClockState {
    return { mode: this.mode, msPerMinute: this.msPerMinute, now: this.now() };
  }

  private instantSleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0) return new Promise((resolve) => setImmediate(resolve));
    return new Promise<void>((resolve, reject) => {
      const s: Sleeper = {
        wake: this.now() + ms,
        seq: this.sleepSeq++,
        resolve,
        reject,
        signal,
        onAbort: undefined,
      };
      if (signal) {
        s.onAbort = () => {
          this.sleepers = this.sleepers.filter((x) => x !== s);
          reject(new InterruptedError());
        };
        signal.addEventListener('abort', s.onAbort, { once: true });
      }
      this.sleepers.push(s);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer || this.sleepers.length === 0) return;
    const wait = Math.max(0, this.quietMs - (performance.now() - this.lastActivity));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, wait);
  }

  private tick(): void {
    if (this.sleepers.length === 0) return;
    if (performance.now() - this.lastActivity < this.quietMs) {
      this.schedule();
      return;
    }
    const next = Math.min(...this.sleepers.map((s) => s.wake));
    if (next > this.base) this.base = next;
    this.release();
    // Give whoever woke up a quiet window of its own before time moves again.
    this.touch();
    this.schedule();
  }

  private release(): void {
    const due = this.sleepers
      .filter((s) => s.wake <= this.base)
      .sort((a, b) => a.wake - b.wake || a.seq - b.seq);
    if (due.length === 0) return;
    this.sleepers = this.sleepers.filter((s) => !due.includes(s));
    for (const s of due) {
      if (s.signal && s.onAbort) s.signal.removeEventListener('abort', s.onAbort);
      s.resolve();
    }
  }
}
