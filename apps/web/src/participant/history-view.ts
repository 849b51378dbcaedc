import type { RoundRecord } from '@tabula/core';
import { h, replaceChildren } from '../shared/dom.js';
import { formatBytes, formatMetric, formatMs, formatNumber } from '../shared/format.js';
import { createLineChart, type LineChart } from '../shared/line-chart.js';

/**
 * Rows the table shows, newest first: a tab that runs for hours would otherwise grow the page (and re-render it) by one
 * row per round without end. The chart and the totals keep every round.
 */
export const HISTORY_ROWS = 50;

/** This tab's rounds: accuracy before and after adaptation (chart and table) and bytes up/down. */
export class HistoryView {
  readonly element: HTMLElement;
  private readonly chart: LineChart = createLineChart({
    title: 'This tab: global vs personalized',
    yLabel: 'accuracy',
    yRange: [0, 1],
    series: [
      { label: 'global (before adaptation)', color: '#6b7280' },
      { label: 'personalized (after adaptation)', color: '#2563eb' },
    ],
  });
  private readonly body = h('tbody');
  private readonly totals = h('p', { className: 'muted' });
  private metric: 'accuracy' | 'mse' = 'accuracy';

  constructor() {
    this.element = h(
      'div',
      {},
      this.chart.element,
      this.totals,
      h(
        'table',
        { 'data-testid': 'history', 'aria-label': 'Rounds this tab took part in' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Round', 'Mode', 'Before', 'After', 'Loss', 'Train time', 'Down', 'Up', 'Hub'].map((t) =>
              h('th', { scope: 'col', text: t }),
            ),
          ),
        ),
        this.body,
      ),
    );
    this.render([]);
  }

  render(history: readonly RoundRecord[]): void {
    const metric = history.find((r) => r.evaluation)?.evaluation?.metric ?? 'accuracy';
    if (metric !== this.metric) {
      this.metric = metric;
      this.chart.setTitle(`This tab: global vs personalized (${metric})`, metric, metric === 'accuracy' ? [0, 1] : undefined);
    }
    this.chart.update(
      history.map((r) => r.round),
      [history.map((r) => r.evaluation?.before ?? null), history.map((r) => r.evaluation?.after ?? null)],
    );
    const rows = history
      .slice(-HISTORY_ROWS)
      .reverse()
      .map((r) =>
        h(
          'tr',
          {},
          h('td', { text: r.round }),
          h('td', { text: r.mode }),
          h('td', { text: formatMetric(r.evaluation?.before, metric) }),
          h('td', { text: formatMetric(r.evaluation?.after, metric) }),
          h('td', { text: formatNumber(r.loss) }),
          h('td', { text: formatMs(r.trainMs) }),
          h('td', { text: formatBytes(r.bytesDown) }),
          h('td', { text: formatBytes(r.bytesUp) }),
          h('td', { text: r.accepted ? 'accepted' : `rejected: ${r.error ?? ''}` }),
        ),
      );
    const earlier = history.length - rows.length;
    replaceChildren(
      this.body,
      rows.length ? rows : h('tr', {}, h('td', { colspan: 9, className: 'muted', text: 'No rounds yet.' })),
      earlier > 0
        ? h(
            'tr',
            {},
            h('td', {
              colspan: 9,
              className: 'muted',
              text: `…and ${earlier} earlier round${earlier === 1 ? '' : 's'}: in the chart and the totals`,
            }),
          )
        : null,
    );
    const down = history.reduce((n, r) => n + r.bytesDown, 0);
    const up = history.reduce((n, r) => n + r.bytesUp, 0);
    const last = history[history.length - 1]?.evaluation;
    this.totals.textContent =
      `${history.length} round${history.length === 1 ? '' : 's'} · ${formatBytes(down)} down · ${formatBytes(up)} up` +
      (last
        ? ` · last: ${formatMetric(last.before, metric)} before, ${formatMetric(last.after, metric)} after ${last.adaptSteps} adaptation steps`
        : '');
  }
}
