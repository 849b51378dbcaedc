import type { RoundSummary } from '@tabula/core/protocol';
import { h, replaceChildren } from '../shared/dom.js';
import { formatBytes, formatMetric, formatMs, formatNumber } from '../shared/format.js';
import { createLineChart, type LineChart } from '../shared/line-chart.js';
import { epsilonSeries, formatEpsilon, secureStagesText } from '../shared/privacy-text.js';
import { completedRounds } from './round-list.js';

type Metric = 'accuracy' | 'mse';

/** A differentially private run's budget (null: none); null for a run without privacy. */
export type PrivacyView = { readonly budget: number | null } | null;

/** Per-round charts (accuracy or MSE, loss, participants, bytes; ε in a DP run) and the rounds table. */
export class RoundsView {
  readonly element: HTMLElement;
  private readonly quality: LineChart;
  private readonly loss: LineChart;
  private readonly people: LineChart;
  private readonly bytes: LineChart;
  private readonly epsilon: LineChart;
  private readonly body = h('tbody');
  private readonly headRow = h('tr');
  private readonly caption = h('p', { className: 'muted' });
  private readonly failures = h('ul', { className: 'notes' });
  private metric: Metric = 'accuracy';

  constructor() {
    this.quality = createLineChart({
      title: 'Accuracy: global vs personalized',
      yLabel: 'accuracy',
      yRange: [0, 1],
      series: [
        { label: 'global', color: '#6b7280' },
        { label: 'personalized', color: '#2563eb' },
        { label: 'held-out global', color: '#d97706', dashed: true },
        { label: 'held-out personalized', color: '#059669', dashed: true },
      ],
    });
    this.loss = createLineChart({ title: 'Training loss', yLabel: 'loss', series: [{ label: 'loss', color: '#7c3aed' }] });
    this.people = createLineChart({
      title: 'Participants in each round',
      yLabel: 'participants',
      series: [
        { label: 'aggregated', color: '#0891b2' },
        { label: 'failed', color: '#b91c1c' },
      ],
    });
    this.bytes = createLineChart({
      title: 'Bytes per round',
      yLabel: 'bytes',
      series: [
        { label: 'up', color: '#16a34a' },
        { label: 'down', color: '#ea580c' },
      ],
    });
    this.epsilon = createLineChart({
      title: 'Privacy spent: ε after each round',
      yLabel: 'ε',
      series: [
        { label: 'ε', color: '#9333ea' },
        { label: 'budget', color: '#b91c1c', dashed: true },
      ],
    });
    this.epsilon.element.dataset.testid = 'epsilon-chart';
    this.element = h(
      'div',
      {},
      h(
        'div',
        { className: 'charts' },
        this.epsilon.element,
        this.quality.element,
        this.loss.element,
        this.people.element,
        this.bytes.element,
      ),
      h('h3', { text: 'Rounds' }),
      this.caption,
      h(
        'div',
        { className: 'table-wrap' },
        h('table', { 'data-testid': 'rounds', 'aria-label': 'Completed rounds' }, h('thead', {}, this.headRow), this.body),
      ),
      this.failures,
    );
    this.render([], 'accuracy', null);
  }

  render(rounds: readonly RoundSummary[], metric: Metric, privacy: PrivacyView): void {
    if (metric !== this.metric) {
      this.metric = metric;
      this.quality.setTitle(
        metric === 'accuracy' ? 'Accuracy: global vs personalized' : 'MSE: global vs personalized (lower is better)',
        metric,
        metric === 'accuracy' ? [0, 1] : undefined,
      );
    }
    const done = completedRounds(rounds);
    const x = done.map((r) => r.round);
    this.quality.update(x, [
      done.map((r) => r.metrics.global),
      done.map((r) => r.metrics.personalized),
      done.map((r) => r.metrics.heldOutGlobal),
      done.map((r) => r.metrics.heldOutPersonalized),
    ]);
    this.loss.update(x, [done.map((r) => r.metrics.loss)]);
    this.people.update(x, [done.map((r) => r.participants.length), done.map((r) => r.failures.length)]);
    this.bytes.update(x, [done.map((r) => r.bytesUp), done.map((r) => r.bytesDown)]);
    this.epsilon.element.hidden = privacy === null;
    if (privacy) {
      const series = epsilonSeries(done, privacy.budget);
      this.epsilon.update(series.x, [series.epsilon, series.budget]);
    }

    const m = metric === 'accuracy' ? 'acc.' : 'MSE';
    const secure = rounds.some((r) => r.secureAggregation);
    replaceChildren(
      this.headRow,
      [
        'Round',
        'Participants',
        'Loss',
        `Global ${m}`,
        `Personalized ${m}`,
        `Held-out global`,
        `Held-out personalized`,
        'Bytes up',
        'Bytes down',
        'Duration',
        ...(privacy ? ['ε after'] : []),
        ...(secure ? ['Secure aggregation: answered per stage'] : []),
      ].map((c) => h('th', { scope: 'col', text: c })),
    );
    replaceChildren(
      this.body,
      [...done]
        .reverse()
        .map((r) =>
          h(
            'tr',
            { 'data-round': r.round },
            h('td', { text: r.round }),
            h('td', { text: r.participants.length }),
            h('td', { text: formatNumber(r.metrics.loss) }),
            h('td', { text: formatMetric(r.metrics.global, metric) }),
            h('td', { text: formatMetric(r.metrics.personalized, metric) }),
            h('td', { text: formatMetric(r.metrics.heldOutGlobal, metric) }),
            h('td', { text: formatMetric(r.metrics.heldOutPersonalized, metric) }),
            h('td', { text: formatBytes(r.bytesUp) }),
            h('td', { text: formatBytes(r.bytesDown) }),
            h('td', { text: formatMs(r.durationMs) }),
            privacy ? h('td', { text: r.privacy ? formatEpsilon(r.privacy.epsilon) : '–' }) : null,
            secure ? h('td', { text: r.secureAggregation ? secureStagesText(r.secureAggregation) : '–' }) : null,
          ),
        ),
    );
    this.caption.textContent =
      done.length === 0 ? 'No completed rounds yet.' : `${done.length} completed round${done.length === 1 ? '' : 's'}.`;
    const failed = rounds.filter((r) => r.status === 'failed');
    replaceChildren(
      this.failures,
      failed.slice(-10).map((r) =>
        h('li', {
          text: `round ${r.round}, attempt ${r.attempt} failed: ${r.reason ?? 'no reason given'}${r.secureAggregation ? ` — ${secureStagesText(r.secureAggregation)}` : ''}`,
        }),
      ),
    );
  }
}
