import { CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Title, Tooltip } from 'chart.js';

Chart.register(LineController, LineElement, PointElement, LinearScale, CategoryScale, Legend, Title, Tooltip);

export interface SeriesSpec {
  readonly label: string;
  readonly color: string;
  /** Dashed lines mark held-out participants. */
  readonly dashed?: boolean;
}

export interface LineChartOptions {
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly SeriesSpec[];
  /** e.g. [0, 1] for accuracy. */
  readonly yRange?: readonly [number, number];
}

export interface LineChart {
  /** A sized container holding the canvas: put this in the page. */
  readonly element: HTMLDivElement;
  /** x labels (round numbers) and one value array per series; null leaves a gap. */
  update(labels: readonly (string | number)[], values: readonly (readonly (number | null)[])[]): void;
  setTitle(title: string, yLabel?: string, yRange?: readonly [number, number]): void;
  /** Replaces the series (e.g. one per compared run); call update() with as many value arrays afterwards. */
  setSeries(series: readonly SeriesSpec[]): void;
  destroy(): void;
}

function dataset(s: SeriesSpec) {
  return {
    label: s.label,
    data: [] as (number | null)[],
    borderColor: s.color,
    backgroundColor: s.color,
    borderDash: s.dashed ? [6, 4] : [],
    pointRadius: 2,
    spanGaps: true,
    tension: 0.15,
  };
}

/** A small line chart (chart.js) with an accessible name; the figures are also in a table next to it. */
export function createLineChart(options: LineChartOptions): LineChart {
  const canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `Chart: ${options.title}`);
  const element = document.createElement('div');
  element.className = 'chart';
  element.append(canvas);
  const chart = new Chart<'line', (number | null)[], string | number>(canvas, {
    type: 'line',
    data: {
      labels: [],
      datasets: options.series.map(dataset),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { title: { display: true, text: options.title }, legend: { position: 'bottom' } },
      scales: {
        x: { title: { display: true, text: 'round' } },
        y: {
          title: { display: true, text: options.yLabel },
          ...(options.yRange ? { min: options.yRange[0], max: options.yRange[1] } : {}),
        },
      },
    },
  });
  return {
    element,
    update(labels, values) {
      chart.data.labels = [...labels];
      chart.data.datasets.forEach((dataset, i) => (dataset.data = [...(values[i] ?? [])]));
      chart.update();
    },
    setTitle(title, yLabel, yRange) {
      canvas.setAttribute('aria-label', `Chart: ${title}`);
      const plugins = chart.options.plugins;
      if (plugins?.title) plugins.title.text = title;
      const y = chart.options.scales?.['y'];
      if (y) {
        if (yLabel && 'title' in y && y.title) y.title.text = yLabel;
        y.min = yRange?.[0];
        y.max = yRange?.[1];
      }
      chart.update();
    },
    setSeries(series) {
      chart.data.datasets = series.map(dataset);
      chart.update();
    },
    destroy() {
      chart.destroy();
    },
  };
}
