import type { RunSummary } from '@tabula/core/protocol';
import { h } from '../shared/dom.js';

/** null: the dashboard offers no Resume for this run; otherwise why the button is disabled (null: it is not). */
export type ResumeOffer = { readonly blockedBy: string | null } | null;

/**
 * A paused or failed run can be resumed while no other run is in progress. The hub has the last word (it also
 * refuses a run whose last checkpoint is corrupt, with the reason); this spares the user a refusal it can foresee.
 */
export function resumeOffer(run: RunSummary, running: RunSummary | null | undefined): ResumeOffer {
  if (run.status !== 'paused' && run.status !== 'failed') return null;
  if (running && running.id !== run.id && running.status === 'running')
    return { blockedBy: `run ${running.id} is in progress: stop it first` };
  return { blockedBy: null };
}

/** The Resume button for `run` (disabled with the reason while another run is in progress), or null when it has none. */
export function resumeButton(
  run: RunSummary,
  running: RunSummary | null | undefined,
  onResume: (runId: string) => void,
): HTMLButtonElement | null {
  const offer = resumeOffer(run, running);
  if (!offer) return null;
  const button = h('button', {
    type: 'button',
    text: 'Resume',
    'aria-label': `Resume run ${run.id}`,
    disabled: offer.blockedBy !== null,
    title: offer.blockedBy,
  });
  button.addEventListener('click', () => onResume(run.id));
  return button;
}
