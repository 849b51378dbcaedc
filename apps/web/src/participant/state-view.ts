import type { ParticipantState, SecAggStage } from '@tabula/core';
import { h } from '../shared/dom.js';

/** What the tab is doing now, as the participant runtime reports it (plus 'connecting' from the socket). */
export interface ViewStatus {
  readonly state: ParticipantState;
  readonly round?: number;
  readonly step?: number;
  readonly totalSteps?: number;
  readonly message?: string;
  /** A secure aggregation run, after training: the stage the hub asked for last ('waiting': none yet). */
  readonly secureStage?: SecAggStage | 'waiting';
}

/** Each stage, as the person at the tab reads it, with its place among the four. */
const SECURE_STAGES: Record<SecAggStage | 'waiting', { readonly at: number; readonly text: string }> = {
  waiting: { at: 0, text: 'waiting for the hub to gather the group' },
  advertise: { at: 1, text: 'stage 1 of 4, exchanging public keys' },
  share: { at: 2, text: 'stage 2 of 4, sharing encrypted key shares' },
  mask: { at: 3, text: 'stage 3 of 4, sending the masked update' },
  unmask: { at: 4, text: 'stage 4 of 4, helping unmask the group’s sum' },
};

/** The state line reads "<state>: <details>", e.g. "training: step 3 of 10 (round 2)". Pure, tested. */
export function describeStatus(status: ViewStatus): string {
  const round = status.round !== undefined ? ` (round ${status.round})` : '';
  const extra = status.message ? ` — ${status.message}` : '';
  switch (status.state) {
    case 'connecting':
      return `connecting: joining the hub${extra}`;
    case 'waiting':
      return `waiting: for a round${extra}`;
    case 'downloading':
      return `downloading: the global model${round}`;
    case 'evaluating':
      return `evaluating: the global model before and after adaptation${round}`;
    case 'training':
      return `training: step ${status.step ?? 0} of ${status.totalSteps ?? '?'}${round}`;
    case 'uploading':
      if (status.secureStage) return `secure aggregation: your update is masked — ${SECURE_STAGES[status.secureStage].text}${round}`;
      return `uploading: the update${round}`;
    case 'done':
      return `done: finished${round}, waiting for the next${extra}`;
    case 'error':
      return `error: ${status.message ?? 'unknown error'}${round}`;
    case 'paused':
      return `paused: ${status.message ?? 'you paused taking part'}`;
    default: {
      const never: never = status.state;
      return String(never);
    }
  }
}

/** The state line and the training progress bar. */
export class StateView {
  readonly element: HTMLElement;
  private readonly line = h('p', { 'data-testid': 'participant-state', className: 'state', 'aria-live': 'polite' });
  private readonly progress = h('progress', { id: 'train-progress', 'aria-label': 'Training progress', max: 1, value: 0 });
  private readonly stepText = h('span', { id: 'train-step', className: 'muted' });

  constructor() {
    this.element = h(
      'div',
      {},
      this.line,
      h(
        'div',
        { className: 'progress-row' },
        h('label', { for: 'train-progress', text: 'Training progress' }),
        this.progress,
        this.stepText,
      ),
    );
  }

  show(status: ViewStatus): void {
    this.line.textContent = describeStatus(status);
    this.line.dataset['state'] = status.state;
    if (status.state === 'training') {
      const total = Math.max(1, status.totalSteps ?? 1);
      this.progress.max = total;
      this.progress.value = Math.min(total, status.step ?? 0);
      this.stepText.textContent = `step ${status.step ?? 0} of ${status.totalSteps ?? '?'}`;
    } else if (status.state === 'uploading' && status.secureStage) {
      this.progress.max = 4;
      this.progress.value = SECURE_STAGES[status.secureStage].at;
      this.stepText.textContent = `secure aggregation ${SECURE_STAGES[status.secureStage].at} of 4`;
    } else if (status.state === 'done') {
      this.progress.value = this.progress.max;
    } else if (status.state === 'downloading') {
      this.progress.value = 0;
      this.stepText.textContent = '';
    }
  }
}
