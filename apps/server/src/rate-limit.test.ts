import { describe, expect, it } from 'vitest';
import { MessageRateLimiter } from './rate-limit.js';

describe('MessageRateLimiter', () => {
  it('accepts a burst, then refills at the rate, refuses beyond it and drops the connection once at the threshold', () => {
    // Prepare: a clock the test moves.
    const clock = { t: 0 };
    const limiter = new MessageRateLimiter({ perSecond: 10, burst: 3, refusalsBeforeDisconnect: 3 }, () => clock.t);
    // Execute + Assert: the burst, then refusals.
    expect([limiter.take(), limiter.take(), limiter.take()]).toEqual(['accept', 'accept', 'accept']);
    expect(limiter.take()).toBe('refuse');
    // 100 ms at 10/s refill one message.
    clock.t = 100;
    expect(limiter.take()).toBe('accept');
    expect([limiter.take(), limiter.take(), limiter.take()]).toEqual(['refuse', 'disconnect', 'refuse']);
    expect(limiter.refused).toBe(4);
    // The bucket never holds more than the burst, however long the connection was quiet.
    clock.t = 60_000;
    expect([limiter.take(), limiter.take(), limiter.take(), limiter.take()]).toEqual(['accept', 'accept', 'accept', 'refuse']);
  });
});
