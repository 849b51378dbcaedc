/**
 * How a round's updates meet across hubs (design/scale-out.md §4.2, §4.3, §5): each hub folds its own tabs' updates
 * into a float64 partial weighted sum (the same collector and checks as one hub) and posts it to Redis under the
 * round and the coordinator's epoch; the coordinator waits for the hubs it assigned tabs to, but not for one whose
 * heartbeat is gone, and combines the partials in sorted hub order, so the float64 sums, and the mean, reproduce.
 * Partials live in Redis, not in the coordinator, so a new coordinator can still read those of an open round.
 */
import { decodePartial, encodePartial, type WeightedPartial } from '@tabula/core';
import type { Redis } from 'ioredis';

export interface PartialAddress {
  readonly runId: string;
  readonly round: number;
  /** A retried round's shares are its own: one posted for an earlier attempt is never mixed in. */
  readonly attempt: number;
  /** The coordinator epoch that announced the round: a partial for an older announcement is never mixed in. */
  readonly epoch: number;
}

/** Why a hub's partial is missing from a round. */
export type MissingReason = 'gone' | 'deadline';

export interface CollectedPartials {
  /** Sorted by hub id: the order the coordinator adds them in; `meta` is what the hub posted beside its sums. */
  readonly partials: readonly { readonly hub: string; readonly partial: WeightedPartial; readonly meta: string }[];
  readonly missing: readonly { readonly hub: string; readonly reason: MissingReason }[];
}

export interface RoundPartialsOptions {
  readonly prefix?: string;
  /** How long a posted partial stays in Redis; default 10 min. */
  readonly ttlMs?: number;
}

export class RoundPartials {
  private readonly prefix: string;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    options: RoundPartialsOptions = {},
  ) {
    this.prefix = options.prefix ?? 'tabula:';
    this.ttlMs = options.ttlMs ?? 600_000;
  }

  private key(a: PartialAddress, hub: string): string {
    return `${this.prefix}partial:${a.runId}:${a.round}:${a.attempt}:${a.epoch}:${hub}`;
  }

  private stream(a: PartialAddress): string {
    return `${this.prefix}partials:${a.runId}:${a.round}:${a.attempt}:${a.epoch}`;
  }

  /** A hub's partial for the round: stored, then announced on the round's stream with `meta` (what else it reports). */
  async post(address: PartialAddress, hub: string, partial: WeightedPartial, meta = '{}'): Promise<void> {
    await this.redis.set(this.key(address, hub), Buffer.from(encodePartial(partial)), 'PX', this.ttlMs);
    await this.redis.xadd(this.stream(address), '*', 'hub', hub, 'meta', meta);
    await this.redis.pexpire(this.stream(address), this.ttlMs);
  }

  /**
   * The coordinator's wait: returns once every hub in `expected` posted, or each that did not is no longer `live`, or
   * `deadline` (epoch ms) passed. `blocking` is a connection of its own, since XREAD BLOCK holds it (scale-out.md §8).
   */
  async collect(
    address: PartialAddress,
    expected: readonly string[],
    options: {
      readonly length: number;
      readonly live: (hub: string) => Promise<boolean>;
      readonly deadline: number;
      readonly blocking: Redis;
      readonly pollMs?: number;
    },
  ): Promise<CollectedPartials> {
    const waiting = new Set(expected);
    const posted = new Map<string, string>();
    const gone = new Set<string>();
    let cursor = '0';
    const pollMs = options.pollMs ?? 250;
    for (;;) {
      const block = Math.max(1, Math.min(pollMs, options.deadline - Date.now()));
      const reply = await options.blocking.xread('BLOCK', block, 'STREAMS', this.stream(address), cursor);
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          cursor = id;
          const field = (name: string) => {
            const at = fields.indexOf(name);
            return at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
          };
          const hub = field('hub');
          if (hub !== undefined && waiting.delete(hub)) posted.set(hub, field('meta') ?? '{}');
        }
      }
      if (waiting.size === 0) break;
      // A hub whose heartbeat expired will not post: stop waiting for it now, not at the deadline.
      for (const hub of [...waiting]) {
        if (!(await options.live(hub))) {
          waiting.delete(hub);
          gone.add(hub);
        }
      }
      if (waiting.size === 0 || Date.now() >= options.deadline) break;
    }
    const partials = [];
    for (const [hub, meta] of [...posted].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const bytes = await this.redis.getBuffer(this.key(address, hub));
      // Expired in between (a very late round): the same as a hub that never posted.
      if (bytes) partials.push({ hub, partial: decodePartial(bytes, options.length), meta });
      else gone.add(hub);
    }
    return {
      partials,
      missing: [
        ...[...gone].map((hub) => ({ hub, reason: 'gone' as const })),
        ...[...waiting].map((hub) => ({ hub, reason: 'deadline' as const })),
      ].sort((a, b) => a.hub.localeCompare(b.hub)),
    };
  }
}
