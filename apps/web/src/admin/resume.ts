import type { RunSummary } from '@tabula/core/protocol';

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
