/** Number formats shared by both pages. Pure: tested without a DOM. */

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '–';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(2)} MiB`;
}

/** accuracy as a percentage, MSE as a plain number; '–' when absent. */
export function formatMetric(value: number | null | undefined, metric: 'accuracy' | 'mse' = 'accuracy'): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return metric === 'accuracy' ? `${(value * 100).toFixed(1)}%` : value.toFixed(3);
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function formatNumber(value: number | null | undefined, digits = 3): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return Number(value.toPrecision(digits)).toString();
}

export function formatTime(epochMs: number): string {
  return new Date(epochMs).toLocaleString();
}

/** A count with thousands separators, the same in every locale: 1,640. */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** "1 layer", "2 layers". */
export function plural(count: number, noun: string): string {
  return `${formatCount(count)} ${noun}${count === 1 ? '' : 's'}`;
}
