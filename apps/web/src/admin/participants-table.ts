import { PARTICIPANT_STATES, type ParticipantInfo, type ParticipantsDiff } from '@tabula/core/protocol';
import { h } from '../shared/dom.js';
import { formatMs } from '../shared/format.js';
import { PAGE_SIZE, ParticipantList, type ParticipantFilter } from './participant-list.js';

const COLUMNS = ['ID', 'Connected', 'Backend', 'Examples', 'Data', 'State', 'Last round', 'Latency', 'Answered'];

const FILTERS: readonly { value: ParticipantFilter; label: string }[] = [
  { value: 'all', label: 'All participants' },
  { value: 'connected', label: 'Connected only' },
  ...PARTICIPANT_STATES.map((state) => ({ value: state, label: `State: ${state}` })),
];

function cellsOf(p: ParticipantInfo): string[] {
  return [
    p.id,
    p.connected ? 'yes' : 'no',
    p.backend,
    String(p.examples),
    describeData(p),
    p.state,
    String(p.lastRound ?? '–'),
    formatMs(p.lastLatencyMs),
    describeReliability(p),
  ];
}

/** Rounds answered of those it was sent work in, and a note when selection skips it for letting the last ones pass. */
export function describeReliability(p: Pick<ParticipantInfo, 'selected' | 'answered' | 'missStreak'>): string {
  if (p.selected === 0) return '–';
  const record = `${p.answered} of ${p.selected}`;
  return p.missStreak > 0 ? `${record} · missed the last ${p.missStreak}` : record;
}

/**
 * The participants the hub knows, connected ones first, a page at a time: with thousands of participants
 * changing state several times a second, an update touches only the rows on screen, and those rows are reused
 * (their text changed where it differs) rather than built again.
 */
export class ParticipantsTable {
  readonly element: HTMLElement;
  private readonly list = new ParticipantList();
  private readonly body = h('tbody');
  private readonly rows: HTMLTableRowElement[] = [];
  private readonly caption = h('p', { className: 'muted', 'data-testid': 'participants-caption' });
  private readonly filter = h(
    'select',
    { id: 'participants-filter' },
    FILTERS.map((f) => h('option', { value: f.value, text: f.label })),
  );
  private readonly previous = h('button', { type: 'button', text: 'Previous', 'aria-label': 'Previous page of participants' });
  private readonly next = h('button', { type: 'button', text: 'Next', 'aria-label': 'Next page of participants' });
  private readonly pageLabel = h('span', { className: 'muted', 'aria-live': 'polite' });
  /** A plain wrapper: `hidden` would lose to the flex display of .buttons. */
  private readonly pager = h('div', {}, h('div', { className: 'buttons' }, this.previous, this.pageLabel, this.next));
  private page = 0;

  constructor() {
    this.filter.addEventListener('change', () => {
      this.page = 0;
      this.render();
    });
    this.previous.addEventListener('click', () => {
      this.page--;
      this.render();
    });
    this.next.addEventListener('click', () => {
      this.page++;
      this.render();
    });
    this.element = h(
      'div',
      {},
      h('div', { className: 'buttons' }, h('label', { for: 'participants-filter', text: 'Show' }), this.filter, this.caption),
      h(
        'div',
        { className: 'table-wrap' },
        h(
          'table',
          { 'data-testid': 'participants', 'aria-label': 'Participants' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              COLUMNS.map((c) => h('th', { scope: 'col', text: c })),
            ),
          ),
          this.body,
        ),
      ),
      this.pager,
    );
    this.render();
  }

  /** The whole list (the hub's snapshot). */
  replace(participants: readonly ParticipantInfo[]): void {
    this.list.replace(participants);
    this.render();
  }

  apply(diff: ParticipantsDiff): void {
    this.list.apply(diff);
    this.render();
  }

  private render(): void {
    const shown = this.list.page(this.filter.value as ParticipantFilter, this.page, PAGE_SIZE);
    this.page = shown.page;
    shown.rows.forEach((p, i) => this.fill(this.rows[i] ?? this.addRow(), p));
    for (const extra of this.rows.splice(shown.rows.length)) extra.remove();

    const counts = `${shown.connected} connected of ${shown.known} known.`;
    const range =
      shown.matching === 0 ? 'None to show.' : `Showing ${shown.first + 1}–${shown.first + shown.rows.length} of ${shown.matching}.`;
    this.caption.textContent =
      shown.known === 0
        ? 'No participants yet: open the participant page in some tabs.'
        : shown.matching === shown.known && shown.pages === 1
          ? counts
          : `${counts} ${range}`;
    this.pager.hidden = shown.pages === 1;
    this.pageLabel.textContent = `Page ${shown.page + 1} of ${shown.pages}`;
    this.previous.disabled = shown.page === 0;
    this.next.disabled = shown.page === shown.pages - 1;
  }

  private addRow(): HTMLTableRowElement {
    const row = h(
      'tr',
      {},
      COLUMNS.map(() => h('td')),
    );
    this.body.appendChild(row);
    this.rows.push(row);
    return row;
  }

  /** Writes only what differs: most updates change one cell of a few rows. */
  private fill(row: HTMLTableRowElement, p: ParticipantInfo): void {
    if (row.dataset.participant !== p.id) row.dataset.participant = p.id;
    if (row.dataset.state !== p.state) row.dataset.state = p.state;
    cellsOf(p).forEach((text, j) => {
      const cell = row.cells[j]!;
      if (cell.textContent !== text) cell.textContent = text;
    });
  }
}

export function describeData(p: Pick<ParticipantInfo, 'dataSource' | 'assignedIndex' | 'scenario' | 'heldOut' | 'validation'>): string {
  const shard = p.scenario
    ? `${p.scenario.name} × ${p.scenario.participants} (seed ${p.scenario.seed}) #${p.assignedIndex}`
    : `shard ${p.assignedIndex}`;
  const source = p.dataSource === 'own' ? 'own digits' : p.assignedIndex !== null ? shard : 'unassigned';
  return p.heldOut ? `${source} (held out)` : p.validation ? `${source} (validation: takes part in no run)` : source;
}
