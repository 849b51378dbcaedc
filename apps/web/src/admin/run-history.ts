import type { RunSummary } from '@tabula/core/protocol';
import { h, replaceChildren } from '../shared/dom.js';
import { formatTime } from '../shared/format.js';
import { resumeButton } from './resume.js';

/** Past and current runs (GET /api/runs), with buttons to show a run's rounds, resume a paused or failed one, delete a finished one. */
export class RunHistory {
  readonly element: HTMLElement;
  private readonly body = h('tbody');
  private readonly caption = h('p', { className: 'muted' });

  /** Runs ticked "Compare", kept across re-renders. */
  private readonly compared = new Set<string>();

  constructor(
    private readonly onShow: (runId: string) => void,
    private readonly onDelete: (runId: string) => void,
    private readonly onResume: (runId: string) => void,
    private readonly onCompare: (runIds: readonly string[]) => void,
    private readonly maxCompared: number,
  ) {
    this.element = h(
      'div',
      {},
      this.caption,
      h(
        'div',
        { className: 'table-wrap' },
        h(
          'table',
          { 'data-testid': 'run-history', 'aria-label': 'Run history' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['Compare', 'Run', 'Name', 'Algorithm', 'Model', 'Scenario', 'Status', 'Rounds', 'Started', ''].map((c) =>
                h('th', { scope: 'col', text: c }),
              ),
            ),
          ),
          this.body,
        ),
      ),
    );
  }

  render(runs: readonly RunSummary[]): void {
    // A deleted run leaves the comparison too.
    const known = new Set(runs.map((r) => r.id));
    const before = this.compared.size;
    for (const id of this.compared) if (!known.has(id)) this.compared.delete(id);
    if (this.compared.size !== before) this.onCompare([...this.compared]);
    const running = runs.find((r) => r.status === 'running');
    replaceChildren(
      this.body,
      runs.map((run) => {
        const show = h('button', { type: 'button', text: 'Show', 'aria-label': `Show rounds of run ${run.id}` });
        show.addEventListener('click', () => this.onShow(run.id));
        const remove = h('button', { type: 'button', text: 'Delete', 'aria-label': `Delete run ${run.id}` });
        // The running run must be stopped first (the hub refuses too).
        remove.disabled = run.status === 'running';
        remove.addEventListener('click', () => this.onDelete(run.id));
        const resume = resumeButton(run, running, this.onResume);
        const compare = h('input', { type: 'checkbox', 'aria-label': `Compare run ${run.id}` });
        compare.checked = this.compared.has(run.id);
        compare.addEventListener('change', () => {
          if (compare.checked && this.compared.size >= this.maxCompared) {
            compare.checked = false;
            this.caption.textContent = `At most ${this.maxCompared} runs can be compared at once.`;
            return;
          }
          if (compare.checked) this.compared.add(run.id);
          else this.compared.delete(run.id);
          this.onCompare([...this.compared]);
        });
        return h(
          'tr',
          { 'data-run': run.id },
          h('td', {}, compare),
          h('td', { text: run.id }),
          h('td', { text: run.config.name || '–' }),
          h('td', { text: run.config.algorithm }),
          h('td', { text: run.config.model.kind }),
          h('td', { text: run.config.scenario ? `${run.config.scenario.name} × ${run.config.scenario.participants}` : 'own data' }),
          h('td', { className: `status-${run.status}`, text: run.error ? `${run.status}: ${run.error}` : run.status }),
          h('td', { text: `${run.completedRounds} / ${run.config.rounds}` }),
          h('td', { text: formatTime(run.createdAt) }),
          h('td', {}, show, ' ', resume, resume && ' ', remove),
        );
      }),
    );
    this.caption.textContent = runs.length === 0 ? 'No runs yet.' : '';
  }

  showError(message: string): void {
    this.caption.textContent = message;
  }
}
