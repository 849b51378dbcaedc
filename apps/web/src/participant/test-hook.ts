import type { ParticipantState, RoundRecord, tf } from '@tabula/core';
import type { DataSource } from './data-source-view.js';
import type { ViewStatus } from './state-view.js';

/** What the page exposes on `window.tabula` for tests and curious people (read-only by convention). */
export interface TabulaHook {
  backend: string | null;
  participantId: string | null;
  state: ParticipantState;
  status: ViewStatus;
  history: readonly RoundRecord[];
  dataSource: DataSource;
  /** Training examples this tab offers the hub (0 while it has too few). */
  examples: number;
  /** The page's TF.js, e.g. to `tf.loadLayersModel('/api/model/model.json')` from the console. */
  tf: typeof tf;
  /**
   * Median ms per training step (batch 32) of the MNIST MLP or CNN on one backend, for bench/backends.ts.
   * Switches to that backend for the measurement and back afterwards.
   */
  measure(backend: 'webgl' | 'wasm' | 'cpu', model: 'mlp' | 'cnn', budgetMs?: number): Promise<{ msPerStep: number; firstStepMs: number; steps: number }>;
}

declare global {
  interface Window {
    tabula: TabulaHook;
  }
}

export function installHook(initial: TabulaHook): TabulaHook {
  window.tabula = initial;
  return initial;
}
