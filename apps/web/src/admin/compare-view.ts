import { h } from '../shared/dom.js';
import { createLineChart, type LineChart } from '../shared/line-chart.js';
import { COMPARABLE, comparison, type ComparableKey, type RunWithRounds } from './comparison.js';

const COLORS = ['#2563eb', '#d97706', '#059669', '#7c3aed', '#dc2626', '#0891b2', '#4b5563', '#db2777'];
/** More lines than this stop being readable. */
export const MAX_COMPARED = COLORS.length;

/** Several runs' per-round figures in one chart: the runs ticked "Compare" in the history. */
export class CompareView {
  readonly element: HTMLElement;
  private readonly chart: LineChart;
  private readonly select: HTMLSelectElement;
  private readonly caption = h('p', { className: 'muted', 'data-testid': 'compare-caption' });
  private runs: readonly RunWithRounds[] = [];

  constructor() {
    this.chart = createLineChart({ title: 'Runs compared', yLabel: 'value', series: [] });
    this.select = h(
      'select',
      { id: 'compare-metric' },
      COMPARABLE.map((c) => h('option', { value: c.key, text: c.label })),
    );
    this.select.addEventListener('change', () => this.draw());
    this.element = h(
      'div',
      { 'data-testid': 'compare' },
      h('div', { className: 'field' }, h('label', { for: 'compare-metric', text: 'Compare by' }), this.select),
      this.caption,
      this.chart.element,
    );
    this.render([]);
  }

  render(runs: readonly RunWithRounds[]): void {
    this.runs = runs.slice(0, MAX_COMPARED);
    this.draw();
  }

  private draw(): void {
    const key = this.select.value as ComparableKey;
    const { labels, series } = comparison(this.runs, key);
    this.chart.setSeries(series.map((s, i) => ({ label: s.label, color: COLORS[i % COLORS.length]! })));
    this.chart.update(
      labels,
      series.map((s) => s.values),
    );
    const label = COMPARABLE.find((c) => c.key === key)?.label ?? key;
    this.chart.setTitle(`Runs compared: ${label}`, label);
    this.caption.textContent =
      this.runs.length === 0
        ? `Tick "Compare" for up to ${MAX_COMPARED} runs in the history to plot them together.`
        : `${this.runs.length} run${this.runs.length === 1 ? '' : 's'} compared.`;
  }
}
