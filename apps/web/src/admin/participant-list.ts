import type { ParticipantInfo, ParticipantState, ParticipantsDiff } from '@tabula/core/protocol';

/** Which participants the table shows: all, the connected ones, or those in one state. */
export type ParticipantFilter = 'all' | 'connected' | ParticipantState;

export const PAGE_SIZE = 100;

/** One page of the list as the table shows it, with the counts for its caption and pager. */
export interface ParticipantPage {
  readonly rows: readonly ParticipantInfo[];
  /** 0-based, clamped to the pages there are. */
  readonly page: number;
  /** At least 1, also for an empty list. */
  readonly pages: number;
  /** Position of the first row among the entries that pass the filter. */
  readonly first: number;
  /** Entries that pass the filter. */
  readonly matching: number;
  readonly known: number;
  readonly connected: number;
}

const byConnectedThenId = (a: ParticipantInfo, b: ParticipantInfo): number =>
  Number(b.connected) - Number(a.connected) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The dashboard's copy of the hub's participant list: the snapshot's list, then the hub's diffs. Kept sorted
 * (connected first, then by id) so a page is a slice; a diff that only changes states, the common case by far,
 * updates entries in place without sorting again.
 */
export class ParticipantList {
  private readonly byId = new Map<string, ParticipantInfo>();
  /** Null when the order must be rebuilt (an entry came, went, or (dis)connected). */
  private sorted: ParticipantInfo[] | null = [];
  private readonly position = new Map<string, number>();
  private connectedCount = 0;

  replace(all: readonly ParticipantInfo[]): void {
    this.byId.clear();
    this.connectedCount = 0;
    this.sorted = null;
    this.apply({ changed: all, removed: [] });
  }

  /**
   * With several hubs each sends diffs of its own participants, in no order among hubs: a tab that moved from A to B
   * may be added by B before A says it left. So a hub's removal or disconnection never touches an entry another hub
   * holds connected.
   */
  apply(diff: ParticipantsDiff): void {
    const heldElsewhere = (old: ParticipantInfo | undefined, hub: string | undefined) =>
      old !== undefined && old.connected && old.hub !== undefined && hub !== undefined && old.hub !== hub;
    for (const id of diff.removed) {
      const old = this.byId.get(id);
      if (!old || heldElsewhere(old, diff.hub)) continue;
      this.byId.delete(id);
      if (old.connected) this.connectedCount--;
      this.sorted = null;
    }
    for (const entry of diff.changed) {
      const old = this.byId.get(entry.id);
      if (!entry.connected && heldElsewhere(old, entry.hub)) continue;
      this.byId.set(entry.id, entry);
      this.connectedCount += Number(entry.connected) - Number(old?.connected ?? false);
      const at = this.position.get(entry.id);
      if (this.sorted && old && old.connected === entry.connected && at !== undefined) this.sorted[at] = entry;
      else this.sorted = null;
    }
  }

  page(filter: ParticipantFilter, page: number, size = PAGE_SIZE): ParticipantPage {
    const all = this.inOrder();
    const matching = filter === 'all' ? all : all.filter((p) => (filter === 'connected' ? p.connected : p.state === filter));
    const pages = Math.max(1, Math.ceil(matching.length / size));
    const shown = Math.min(Math.max(0, Math.floor(page)), pages - 1);
    const first = shown * size;
    return {
      rows: matching.slice(first, first + size),
      page: shown,
      pages,
      first,
      matching: matching.length,
      known: this.byId.size,
      connected: this.connectedCount,
    };
  }

  private inOrder(): readonly ParticipantInfo[] {
    if (!this.sorted) {
      this.sorted = [...this.byId.values()].sort(byConnectedThenId);
      this.position.clear();
      this.sorted.forEach((p, i) => this.position.set(p.id, i));
    }
    return this.sorted;
  }
}
