import { RunGuaranteeSchema, type RunGuarantee } from '@tabula/core/protocol';
import { h } from '../shared/dom.js';
import { guaranteeText } from '../shared/privacy-text.js';

/** How often a tab asks the hub for the run's guarantee (public, cached by the hub per round). */
export const GUARANTEE_POLL_MS = 5000;

/** The hub's answer to GET /api/privacy, validated: a guarantee, null (no DP run), or an error for anything else. */
export function parseGuarantee(body: unknown): RunGuarantee | null {
  return RunGuaranteeSchema.nullable().parse(body);
}

/** What the tab says about a DP run's guarantee; null when the latest run has none. */
export function guaranteeLine(guarantee: RunGuarantee | null): string | null {
  if (!guarantee) return null;
  const what = guarantee.status === 'running' ? 'so far' : `(run ${guarantee.status})`;
  return `This run's guarantee ${what}: ${guaranteeText(guarantee)}. ε bounds how much the released model can reveal about any one participant's data.`;
}

/** "This run's guarantee so far": the latest DP run's (ε, δ), asked of the hub now and then; hidden without one. */
export class GuaranteeView {
  readonly element = h('p', { 'data-testid': 'tab-guarantee', hidden: true, 'aria-live': 'polite' });

  constructor(private readonly fetchJson: () => Promise<unknown> = defaultFetch) {}

  async refresh(): Promise<void> {
    try {
      const line = guaranteeLine(parseGuarantee(await this.fetchJson()));
      this.element.hidden = line === null;
      this.element.textContent = line ?? '';
    } catch {
      // An old hub without the endpoint, or a network blip: keep what was shown.
    }
  }

  /** Refreshes now and every `intervalMs`. */
  start(intervalMs = GUARANTEE_POLL_MS): void {
    void this.refresh();
    setInterval(() => void this.refresh(), intervalMs);
  }
}

async function defaultFetch(): Promise<unknown> {
  const response = await fetch('/api/privacy', { headers: { Accept: 'application/json' } });
  if (!response.ok) throw new Error(`GET /api/privacy answered ${response.status}`);
  return response.json();
}
