import type { Check, Phase } from './step.js';

export type Action = 'create' | 'teardown' | 'verify';

/** What the engine tells its host. The CLI renders these; tests record them. */
export type EngineEvent =
  | { type: 'run-start'; command: string; steps: string[]; concurrency: number }
  | { type: 'phase-start'; phase: Phase }
  | {
      type: 'step-start';
      id: string;
      title: string;
      phase: Phase;
      action: Action;
      resumed: boolean;
    }
  | { type: 'step-progress'; id: string; message: string }
  | { type: 'step-done'; id: string; action: Action; durationMs: number; resumed: boolean }
  | { type: 'step-skipped'; id: string; reason: string }
  | { type: 'step-failed'; id: string; action: Action; error: Error; durationMs: number }
  | { type: 'warning'; id?: string; message: string }
  | { type: 'checks'; id: string; checks: Check[] }
  | {
      type: 'run-done';
      command: string;
      ok: boolean;
      failed: string[];
      skipped: string[];
      interrupted: boolean;
      durationMs: number;
    };

export type Emit = (event: EngineEvent) => void;
