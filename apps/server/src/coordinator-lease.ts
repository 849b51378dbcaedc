/**
 * Which hub coordinates (design/scale-out.md §4.1, §5): a lease in Redis (`tabula:coord`, SET NX PX) that its holder
 * renews, and a fencing epoch (`tabula:epoch`, INCR) that grows with every new holder. The lease alone cannot stop a
 * holder that was paused past its expiry from acting on its stale belief, so every durable write of a coordinator
 * carries its epoch, and the store refuses an epoch older than one that has written (pg-store.ts). Acquiring (check,
 * increment, set) and renewing (compare, then extend) are Lua scripts: atomic in Redis, so two hubs never both win.
 */
import type { Redis } from 'ioredis';

const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local epoch = redis.call('INCR', KEYS[2])
if epoch <= tonumber(ARGV[3]) then
  epoch = tonumber(ARGV[3]) + 1
  redis.call('SET', KEYS[2], epoch)
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
return epoch`;
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface CoordinatorLeaseOptions {
  /** A connection of its own: a blocking read on a shared one would delay renewals (scale-out.md §8). */
  readonly redis: Redis;
  readonly hubId: string;
  /** How long the lease outlives its last renewal; default 5000 ms. */
  readonly ttlMs?: number;
  /** How often the holder renews and the others try to acquire; default ttlMs / 3. */
  readonly renewMs?: number;
  /** Key prefix; default 'tabula:'. */
  readonly prefix?: string;
  /**
   * The newest epoch any coordinator has written with (the durable store's): a new epoch is always above it. Redis
   * keeps the counter only in memory, so after a restart it would start again at 1, below what the store has seen,
   * and every commit of the new coordinator would be refused as stale.
   */
  readonly floor?: () => Promise<number>;
  readonly onAcquired?: (epoch: number) => void;
  /** The lease is gone (another hub holds it, or Redis cannot be reached within the ttl): stop coordinating now. */
  readonly onLost?: (epoch: number, reason: string) => void;
}

export class CoordinatorLease {
  private held: { epoch: number; token: string; until: number } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly keys: { coord: string; epoch: string };

  constructor(private readonly options: CoordinatorLeaseOptions) {
    this.ttlMs = options.ttlMs ?? 5000;
    this.renewMs = options.renewMs ?? Math.floor(this.ttlMs / 3);
    if (!(this.renewMs > 0 && this.renewMs < this.ttlMs))
      throw new RangeError(`renewMs must be in (0, ttlMs), got ${this.renewMs} of ${this.ttlMs}`);
    const prefix = options.prefix ?? 'tabula:';
    this.keys = { coord: `${prefix}coord`, epoch: `${prefix}epoch` };
  }

  /** The epoch this hub coordinates under, or null when it does not hold the lease (as far as it knows). */
  get epoch(): number | null {
    if (this.held && Date.now() >= this.held.until) this.lose('the lease expired before it could be renewed');
    return this.held?.epoch ?? null;
  }

  /** Tries to acquire now and then every renewMs; renews while held. */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  /** Stops trying; a held lease is released (`release: false` leaves it to expire, as a hub that froze would). */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const held = this.held;
    if (!held || options.release === false) return;
    this.held = null;
    await this.options.redis.eval(RELEASE, 1, this.keys.coord, held.token).catch(() => undefined);
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    const { redis, hubId } = this.options;
    const startedAt = Date.now();
    try {
      if (this.held) {
        const renewed = await redis.eval(RENEW, 1, this.keys.coord, this.held.token, String(this.ttlMs));
        if (renewed === 1 && this.held) this.held.until = startedAt + this.ttlMs;
        else this.lose('another hub holds the lease');
      } else {
        const floor = (await this.options.floor?.()) ?? 0;
        const epoch = await redis.eval(ACQUIRE, 2, this.keys.coord, this.keys.epoch, hubId, String(this.ttlMs), String(floor));
        if (typeof epoch === 'number' && this.running) {
          this.held = { epoch, token: `${hubId}:${epoch}`, until: startedAt + this.ttlMs };
          this.options.onAcquired?.(epoch);
        }
      }
    } catch {
      // Redis unreachable: the lease is ours only until its ttl runs out (checked below and in `epoch`).
    }
    if (this.held && Date.now() >= this.held.until) this.lose('Redis could not be reached to renew the lease');
    if (this.running) this.timer = setTimeout(() => void this.tick(), this.renewMs);
  }

  private lose(reason: string): void {
    const held = this.held;
    if (!held) return;
    this.held = null;
    this.options.onLost?.(held.epoch, reason);
  }
}
