import type { ParticipantInfo } from '@tabula/core/protocol';
import { h, replaceChildren } from '../shared/dom.js';
import { formatMs } from '../shared/format.js';

const COLUMNS = ['ID', 'Connected', 'Backend', 'Examples', 'Data', 'State', 'Last round', 'Latency'];

/** One row per participant the hub knows, connected ones first. */
export class ParticipantsTable {
  readonly element: HTMLElement;
  private readonly body = h('tbody');
  private readonly caption = h('p', { className: 'muted' });

  constructor() {
    this.element = h(
      'div',
      {},
      this.caption,
      h(
        'div',
        { className: 'table-wrap' },
        h('table', { 'data-testid': 'participants', 'aria-label': 'Participants' }, h('thead', {}, h('tr', {}, COLUMNS.map((c) => h('th', { scope: 'col', text: c })))), this.body),
      ),
    );
    this.render([]);
  }

  render(participants: readonly ParticipantInfo[]): void {
    const sorted = [...participants].sort((a, b) => Number(b.connected) - Number(a.connected) || a.id.localeCompare(b.id));
    replaceChildren(
      this.body,
      sorted.map((p) =>
        h(
          'tr',
          { 'data-participant': p.id, 'data-state': p.state },
          h('td', { text: p.id }),
          h('td', { text: p.connected ? 'yes' : 'no' }),
          h('td', { text: p.backend }),
          h('td', { text: p.examples }),
          h('td', { text: describeData(p) }),
          h('td', { text: p.state }),
          h('td', { text: p.lastRound ?? '–' }),
          h('td', { text: formatMs(p.lastLatencyMs) }),
        ),
      ),
    );
    const connected = participants.filter((p) => p.connected).length;
    this.caption.textContent = participants.length === 0 ? 'No participants yet: open the participant page in some tabs.' : `${connected} connected of ${participants.length} known.`;
  }
}

export function describeData(p: Pick<ParticipantInfo, 'dataSource' | 'assignedIndex' | 'scenario' | 'heldOut'>): string {
  const shard = p.scenario ? `${p.scenario.name} × ${p.scenario.participants} (seed ${p.scenario.seed}) #${p.assignedIndex}` : `shard ${p.assignedIndex}`;
  const source = p.dataSource === 'own' ? 'own digits' : p.assignedIndex !== null ? shard : 'unassigned';
  return p.heldOut ? `${source} (held out)` : source;
}
