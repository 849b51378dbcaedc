import { federatedLength, headLength, keepsHead, parameterCount, type Algorithm, type ModelSpec } from '@tabula/core';
import { h } from '../shared/dom.js';
import { formatCount, plural } from '../shared/format.js';
import { RUNS_KEPT } from './head-store.js';

/** Under a personal head (fedrep, fedper): how many parameters the tab shares, and the head it keeps; else null. */
export interface HeadSplit {
  readonly shared: number;
  readonly total: number;
  readonly head: number;
  readonly layers: number;
}

export function headSplit(spec: ModelSpec, algorithm: Algorithm): HeadSplit | null {
  if (!keepsHead(algorithm)) return null;
  return { shared: federatedLength(spec, algorithm), total: parameterCount(spec), head: headLength(spec), layers: spec.head ?? 1 };
}

/** "Shared with the hub: body, 1,720 of 1,761 parameters · kept in this tab: head, 41 parameters (last 1 layer)". */
export function headSplitText(split: HeadSplit): string {
  return (
    `Shared with the hub: body, ${formatCount(split.shared)} of ${formatCount(split.total)} parameters · ` +
    `kept in this tab: head, ${formatCount(split.head)} parameters (last ${plural(split.layers, 'layer')})`
  );
}

/** Where a round's (or the meta-test's) head comes from: kept from a round, imprinted from the support set, or zero. */
export type HeadSource = 'own' | 'imprinted' | 'fresh';

/** A classifier without a head of its own imprints one from its support set (core's imprintedHead); regression cannot. */
export function newHeadSource(task: 'classification' | 'regression'): HeadSource {
  return task === 'classification' ? 'imprinted' : 'fresh';
}

/** Which head a round (or the meta-test) starts from, as the end of a sentence. */
export function headSourceText(source: HeadSource, runId: string): string {
  switch (source) {
    case 'own':
      return `this tab's own head for run ${runId}, kept from an earlier round`;
    case 'imprinted':
      return `a new head imprinted from this tab's support set, each class at its examples' mean (this tab has none for run ${runId} yet)`;
    case 'fresh':
      return `a fresh head (this tab has none for run ${runId} yet)`;
  }
}

export function headStorageText(where: { kind: 'indexeddb' } | { kind: 'memory'; reason: string }): string {
  return where.kind === 'indexeddb'
    ? `Heads are kept in this browser (IndexedDB), for this tab's last ${RUNS_KEPT} runs: a reload keeps them.`
    : `Heads are kept in memory only (IndexedDB unavailable: ${where.reason}): a reload starts from a fresh head.`;
}

/**
 * The tab's personal head, shown while a fedrep or fedper run sends it work: which part of the model it shares,
 * which part it keeps, whether this round starts from its own head or a fresh one, and where the head is kept.
 */
export class HeadView {
  readonly element: HTMLElement;
  private readonly split = h('p', { 'data-testid': 'head-split' });
  private readonly source = h('p', { 'data-testid': 'head-source', className: 'muted', 'aria-live': 'polite' });
  private readonly storage = h('p', { 'data-testid': 'head-storage', className: 'muted' });
  private runId: string | null = null;
  private task: 'classification' | 'regression' = 'classification';

  constructor() {
    this.element = h('div', { className: 'personal-head', hidden: true }, this.split, this.source, this.storage);
  }

  /** A round's task arrived: show the split for a personal-head run, hide the view for any other. */
  showTask(runId: string, spec: ModelSpec, algorithm: Algorithm): void {
    const split = headSplit(spec, algorithm);
    this.element.hidden = split === null;
    if (!split) return;
    if (runId !== this.runId) this.source.textContent = '';
    this.runId = runId;
    this.task = spec.task;
    this.split.textContent = headSplitText(split);
    this.split.dataset['shared'] = String(split.shared);
    this.split.dataset['head'] = String(split.head);
  }

  showSource(runId: string, own: boolean): void {
    const source = own ? 'own' : newHeadSource(this.task);
    this.source.textContent = `This round starts from ${headSourceText(source, runId)}.`;
    this.source.dataset['source'] = source;
  }

  showStorage(where: { kind: 'indexeddb' } | { kind: 'memory'; reason: string }): void {
    this.storage.textContent = headStorageText(where);
    this.storage.dataset['kind'] = where.kind;
  }
}
