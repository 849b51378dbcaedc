import type { MetaGradientCheck, ParticipantState, RoundRecord, tf } from '@tabula/core';
import type { DataSource } from './data-source-view.js';
import type { secAggCheck } from './secagg-check.js';
import type { ViewStatus } from './state-view.js';

/** What the page exposes on `window.tabula` for tests and curious people: a read-only view of the page's state. */
export interface TabulaHook {
  /** The hub the tab is connected to (with several hubs, another than the page's after a failover). */
  readonly hub: string;
  /** Where the tab trains: on this page's main thread, or in its training worker. */
  readonly runtime: 'page' | 'worker';
  readonly backend: string | null;
  readonly participantId: string | null;
  readonly state: ParticipantState;
  readonly status: ViewStatus;
  readonly history: readonly RoundRecord[];
  readonly dataSource: DataSource;
  /** Training examples this tab offers the hub (0 while it has too few). */
  readonly examples: number;
  /** The page's TF.js, e.g. to `tf.loadLayersModel('/api/model/model.json')` from the console. */
  readonly tf: typeof tf;
  /**
   * Median ms per training step (batch 32) of the MNIST MLP or CNN on one backend, for bench/backends.ts.
   * Switches to that backend for the measurement and back afterwards.
   */
  measure(
    backend: 'webgpu' | 'webgl' | 'wasm' | 'cpu',
    model: 'mlp' | 'cnn',
    budgetMs?: number,
  ): Promise<{ msPerStep: number; firstStepMs: number; steps: number }>;
  /** TF.js's live tensors and bytes, and the page's JS heap where the browser tells it: flat across rounds, or a leak. */
  memory(): { tensors: number; tensorBytes: number; heapBytes: number | null };
  /** Full MAML's meta-gradient against central finite differences on one backend (core's checkMamlGradient). */
  gradientCheck(backend: 'webgpu' | 'webgl' | 'wasm' | 'cpu'): Promise<MetaGradientCheck>;
  /** The page's secure aggregation crypto on hex strings: check it against RFC 7748, RFC 5869 and NIST SP 800-38A. */
  readonly secagg: typeof secAggCheck;
}

declare global {
  interface Window {
    tabula: TabulaHook;
  }
}

/** Exposes `view` as `window.tabula`: its getters read the page's state whenever a test asks. */
export function installHook(view: TabulaHook): void {
  window.tabula = view;
}
