import { runGuarantee, type RoundSummary, type RunSummary } from '@tabula/core/protocol';
import { h, replaceChildren } from '../shared/dom.js';
import { guaranteeText } from '../shared/privacy-text.js';
import { sharedPartText, type Federation } from './federation.js';
import { resumeButton } from './resume.js';

/** The run the charts show: the live one, or one picked from the history. */
export class RunStatusView {
  readonly element = h('div', { 'data-testid': 'run-status', 'aria-live': 'polite' });

  /** `downloadCsv`: fetches a run's rounds.csv with the admin token (a plain link would get the public view). */
  constructor(private readonly downloadCsv: (runId: string) => void) {}

  /**
   * `running`: the run in progress, if any (a paused or failed run shown here can be resumed while there is none).
   * `federation`: the hub's count of what the shown run federates, once known. `rounds`: the shown run's, for a DP
   * run's guarantee so far.
   */
  render(
    run: RunSummary | null,
    live: boolean,
    onBackToLive: () => void,
    running: RunSummary | null,
    onResume: (runId: string) => void,
    federation: Federation | null = null,
    rounds: readonly RoundSummary[] = [],
  ): void {
    if (!run) {
      replaceChildren(this.element, h('p', { className: 'muted', text: 'No run yet: fill in the form and press Start run.' }));
      return;
    }
    const c = run.config;
    const back = h('button', { type: 'button', text: 'Back to the live run' });
    back.addEventListener('click', onBackToLive);
    const resume = resumeButton(run, running, onResume);
    const shared = sharedPartText(federation);
    const guarantee = runGuarantee(run, rounds);
    const csv = h('a', {
      href: `/api/runs/${encodeURIComponent(run.id)}/rounds.csv`,
      download: `${run.id}-rounds.csv`,
      text: 'Download rounds (CSV)',
    });
    csv.addEventListener('click', (event) => {
      event.preventDefault();
      this.downloadCsv(run.id);
    });
    replaceChildren(
      this.element,
      h(
        'p',
        {},
        h('strong', { text: `${live ? 'Current run' : 'Showing run'} ${run.id}` }),
        c.name ? ` “${c.name}”` : '',
        ' · ',
        h('span', { className: `status-${run.status}`, text: run.status }),
        ` · round ${run.completedRounds} of ${c.rounds} · ${c.algorithm}, ${c.model.kind}, ${c.scenario ? `${c.scenario.name} × ${c.scenario.participants}` : 'own data'} · ${aggregationText(c.aggregation)}, server ${c.server.kind}`,
        run.error
          ? h('span', {
              // A completed run's reason ('privacy budget reached') is no failure.
              className: `status-${run.status === 'paused' || run.status === 'completed' ? run.status : 'failed'}`,
              text: ` · ${run.error}`,
            })
          : '',
        ' · ',
        csv,
      ),
      guarantee
        ? h('p', { 'data-testid': 'run-guarantee' }, h('strong', { text: 'Differential privacy: ' }), guaranteeText(guarantee))
        : null,
      shared ? h('p', { className: 'muted', 'data-testid': 'run-shared-part', text: `Personal heads · ${shared}.` }) : null,
      resume,
      live ? null : back,
    );
  }
}

/** Configs stored before aggregation was a setting read back with the default, but be lenient anyway. */
function aggregationText(aggregation: RunSummary['config']['aggregation'] | undefined): string {
  if (!aggregation || aggregation.kind === 'fedavg') return 'fedavg';
  return aggregation.kind === 'trimmed-mean' ? `trimmed mean ${aggregation.trim}` : 'median';
}
