import type { ParticipantInfo, ParticipantsDiff } from '@tabula/core';

/** A quarter second: the table looks live, and thousands of changes a second cost four small messages. */
export const PARTICIPANTS_FEED_INTERVAL_MS = 250;

/**
 * What dashboards hear about participants. Thousands of tabs change state many times a round: sending the whole
 * list on every change (or even every 200 ms) costs megabytes a second per dashboard and freezes its page. The
 * feed sends at most one diff per interval, with only the entries that changed since the previous one, and
 * none while no dashboard is watching (one that connects gets the whole list in its snapshot).
 */
export class ParticipantsFeed {
  /** Each entry as last sent, serialized: compared whole, so a field added to ParticipantInfo is tracked too. */
  private sent = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly list: () => readonly ParticipantInfo[],
    private readonly watched: () => boolean,
    private readonly send: (diff: ParticipantsDiff) => void,
    private readonly intervalMs = PARTICIPANTS_FEED_INTERVAL_MS,
  ) {}

  /** Something changed: a diff goes out within the interval, one however many changes come before it. */
  changed(): void {
    if (this.closed) return;
    this.timer ??= setTimeout(() => {
      this.timer = null;
      if (!this.watched()) return;
      const diff = this.diff();
      if (diff.changed.length > 0 || diff.removed.length > 0) this.send(diff);
    }, this.intervalMs);
  }

  /** The entries that differ from the last diff's (all of them the first time) and the ids gone since. */
  diff(): ParticipantsDiff {
    const next = new Map<string, string>();
    const changed: ParticipantInfo[] = [];
    for (const entry of this.list()) {
      const json = JSON.stringify(entry);
      next.set(entry.id, json);
      if (this.sent.get(entry.id) !== json) changed.push(entry);
    }
    const removed = [...this.sent.keys()].filter((id) => !next.has(id));
    this.sent = next;
    return { changed, removed };
  }

  /** Sockets closing with the hub change the registry: nothing is sent after this. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
