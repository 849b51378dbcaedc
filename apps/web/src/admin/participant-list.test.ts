import type { ParticipantInfo } from '@tabula/core/protocol';
import { describe, expect, it } from 'vitest';
import { ParticipantList } from './participant-list.js';

/** A participant as the hub lists it; fields these tests do not look at are left out. */
const entry = (id: string, patch: Partial<ParticipantInfo> = {}): ParticipantInfo =>
  ({
    id,
    connected: true,
    backend: 'test',
    examples: 10,
    heldOut: false,
    validation: false,
    dataSource: 'own',
    scenario: null,
    assignedIndex: null,
    state: 'waiting',
    lastSeen: 1,
    lastRound: null,
    lastLatencyMs: null,
    selected: 0,
    answered: 0,
    missStreak: 0,
    ...patch,
  }) satisfies ParticipantInfo;

const ids = (rows: readonly ParticipantInfo[]) => rows.map((p) => p.id);

describe('ParticipantList', () => {
  it('pages the list, connected participants first and then by id, with the counts for the caption', () => {
    // Prepare: 250 participants, every fifth disconnected.
    const list = new ParticipantList();
    const all = Array.from({ length: 250 }, (_, i) => entry(`p${String(i).padStart(3, '0')}`, { connected: i % 5 !== 0 }));

    // Execute
    list.replace([...all].reverse());
    const first = list.page('all', 0, 100);
    const last = list.page('all', 2, 100);

    // Assert
    expect(first).toMatchObject({ page: 0, pages: 3, first: 0, matching: 250, known: 250, connected: 200 });
    expect(ids(first.rows).slice(0, 3)).toEqual(['p001', 'p002', 'p003']);
    expect(first.rows).toHaveLength(100);
    expect(last).toMatchObject({ page: 2, first: 200, matching: 250 });
    expect(ids(last.rows).slice(-2)).toEqual(['p240', 'p245']);
    expect(last.rows.every((p) => !p.connected)).toBe(true);
  });

  it('clamps a page beyond the end (the list shrank) to the last one, and shows one empty page for no one', () => {
    const list = new ParticipantList();
    list.replace([entry('aaaa'), entry('bbbb'), entry('cccc')]);

    expect(list.page('all', 7, 2)).toMatchObject({ page: 1, pages: 2, first: 2 });
    expect(ids(list.page('all', 7, 2).rows)).toEqual(['cccc']);
    expect(list.page('all', -1, 2).page).toBe(0);
    expect(new ParticipantList().page('all', 0)).toMatchObject({ rows: [], page: 0, pages: 1, matching: 0, known: 0, connected: 0 });
  });

  it('applies a diff: changed entries replaced whole, new ones in order, removed ones gone, counts kept', () => {
    // Prepare
    const list = new ParticipantList();
    list.replace([entry('aaaa'), entry('bbbb'), entry('cccc'), entry('dddd', { connected: false, state: 'connecting' })]);

    // Execute: a state change, a newcomer, a departure, a disconnection, and an id the list never had.
    const diff = {
      changed: [entry('bbbb', { state: 'training', lastSeen: 2 }), entry('abcd'), entry('cccc', { connected: false, state: 'connecting' })],
      removed: ['dddd', 'zzzz'],
    };
    list.apply(diff);
    const page = list.page('all', 0);

    // Assert
    expect(ids(page.rows)).toEqual(['aaaa', 'abcd', 'bbbb', 'cccc']);
    expect(page.rows[2]).toEqual(diff.changed[0]);
    expect(page).toMatchObject({ known: 4, connected: 3 });
    // A diff applied twice changes nothing more.
    list.apply(diff);
    expect(list.page('all', 0)).toEqual(page);
  });

  it('with several hubs, a tab that moved stays connected whatever order the two hubs’ diffs arrive in', () => {
    // Prepare: tab-x was on hub A.
    const list = new ParticipantList();
    list.replace([entry('tab-x', { hub: 'hub-a' }), entry('tab-y', { hub: 'hub-a' })]);

    // Execute: B says it has tab-x before A says tab-x left (disconnected, then forgotten); A also removes tab-y.
    list.apply({ hub: 'hub-b', changed: [entry('tab-x', { hub: 'hub-b' })], removed: [] });
    list.apply({ hub: 'hub-a', changed: [entry('tab-x', { hub: 'hub-a', connected: false, state: 'connecting' })], removed: [] });
    list.apply({ hub: 'hub-a', changed: [], removed: ['tab-x', 'tab-y'] });

    // Assert
    expect(list.page('all', 0).rows).toEqual([entry('tab-x', { hub: 'hub-b' })]);
    expect(list.page('all', 0)).toMatchObject({ known: 1, connected: 1 });
  });

  it('updates state-only changes in place, keeping the order', () => {
    const list = new ParticipantList();
    list.replace([entry('aaaa'), entry('bbbb'), entry('cccc')]);
    list.page('all', 0);

    list.apply({ changed: [entry('cccc', { state: 'uploading' }), entry('aaaa', { state: 'training' })], removed: [] });

    expect(list.page('all', 0).rows.map((p) => `${p.id}:${p.state}`)).toEqual(['aaaa:training', 'bbbb:waiting', 'cccc:uploading']);
  });

  it('filters by connection or by state, paging what passes the filter', () => {
    const list = new ParticipantList();
    list.replace([
      entry('aaaa', { state: 'training' }),
      entry('bbbb'),
      entry('cccc', { state: 'training' }),
      entry('dddd', { connected: false, state: 'connecting' }),
    ]);

    expect(ids(list.page('connected', 0).rows)).toEqual(['aaaa', 'bbbb', 'cccc']);
    expect(list.page('training', 0, 1)).toMatchObject({ pages: 2, matching: 2, known: 4, connected: 3 });
    expect(ids(list.page('training', 1, 1).rows)).toEqual(['cccc']);
    expect(list.page('error', 0)).toMatchObject({ rows: [], pages: 1, matching: 0 });
  });

  it('serves a page of 100 out of 5,000 after a diff without handing out the whole list', () => {
    const list = new ParticipantList();
    list.replace(Array.from({ length: 5000 }, (_, i) => entry(`part-${String(i).padStart(4, '0')}`)));

    list.apply({ changed: [entry('part-4321', { state: 'training' })], removed: [] });
    const page = list.page('all', 43);

    expect(page.rows).toHaveLength(100);
    expect(page.rows[21]).toMatchObject({ id: 'part-4321', state: 'training' });
  });
});
