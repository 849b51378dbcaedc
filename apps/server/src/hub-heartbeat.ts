import type { Redis } from 'ioredis';

/**
 * Each hub's liveness in Redis (`hub:{id}`, PX ttl, refreshed every ttl/5): what the coordinator asks before it waits
 * any longer for a hub's partial.
 */
export class HubHeartbeat {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    private readonly hubId: string,
    private readonly ttlMs = 5000,
    options: { readonly prefix?: string } = {},
  ) {
    this.prefix = options.prefix ?? 'tabula:';
  }

  private facts: () => Record<string, unknown> = () => ({});

  /** Beats now and every ttl/5; `facts` (the hub's URL, its tab counts) travel with each beat. */
  start(facts: () => Record<string, unknown> = () => ({})): Promise<void> {
    this.facts = facts;
    this.timer ??= setInterval(() => void this.beat().catch(() => undefined), Math.max(1, Math.floor(this.ttlMs / 5)));
    return this.beat();
  }

  /** Beats now, out of turn: the facts changed (the hub began listening, so its URL is known). */
  beat(): Promise<void> {
    return this.redis.set(`${this.prefix}hub:${this.hubId}`, JSON.stringify(this.facts()), 'PX', this.ttlMs).then(() => undefined);
  }

  /** Stops beating; `forget` also deletes the key at once (a clean shutdown), else it expires (a crash). */
  async stop(options: { forget?: boolean } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (options.forget) await this.redis.del(`${this.prefix}hub:${this.hubId}`);
  }

  /** Whether `hub`'s heartbeat is current. */
  static async alive(redis: Redis, hub: string, prefix = 'tabula:'): Promise<boolean> {
    return (await redis.exists(`${prefix}hub:${hub}`)) === 1;
  }

  /** Every hub whose heartbeat is current, with the facts it beats, sorted by id. */
  static async live(redis: Redis, prefix = 'tabula:'): Promise<{ id: string; facts: unknown }[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}hub:*`, 'COUNT', 100);
      cursor = next;
      keys.push(...found);
    } while (cursor !== '0');
    const values = keys.length ? await redis.mget(keys) : [];
    const hubs = keys.flatMap((key, i) => {
      const text = values[i];
      if (text === null || text === undefined) return [];
      try {
        return [{ id: key.slice(`${prefix}hub:`.length), facts: JSON.parse(text) as unknown }];
      } catch {
        return [];
      }
    });
    return hubs.sort((a, b) => a.id.localeCompare(b.id));
  }
}
