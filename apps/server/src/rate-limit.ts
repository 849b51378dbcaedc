/**
 * Messages per connection, as a token bucket: a tab sends a handful per round (hello, a few state changes, one
 * update), so a connection far above this is broken or hostile. Beyond the burst, messages are refused with a
 * reason; a connection that keeps going is dropped, so one client cannot keep the hub's event loop busy.
 */
export interface RateLimit {
  readonly perSecond: number;
  readonly burst: number;
  /** Refusals after which the connection is dropped. */
  readonly refusalsBeforeDisconnect: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: 50, burst: 200, refusalsBeforeDisconnect: 500 };

export type RateDecision = 'accept' | 'refuse' | 'disconnect';

export class MessageRateLimiter {
  private tokens: number;
  private filledAt: number;
  private refusals = 0;

  constructor(
    readonly limit: RateLimit = DEFAULT_RATE_LIMIT,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = limit.burst;
    this.filledAt = now();
  }

  /** One message arrived: accept it, refuse it, or (once, at the threshold) drop the connection. */
  take(): RateDecision {
    const t = this.now();
    this.tokens = Math.min(this.limit.burst, this.tokens + ((t - this.filledAt) * this.limit.perSecond) / 1000);
    this.filledAt = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'accept';
    }
    this.refusals++;
    return this.refusals === this.limit.refusalsBeforeDisconnect ? 'disconnect' : 'refuse';
  }

  get refused(): number {
    return this.refusals;
  }
}
