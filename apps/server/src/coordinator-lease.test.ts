import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorLease } from './coordinator-lease.js';
import { startRedis, type LocalService } from './local-services.js';

let redis: LocalService;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(() => redis?.stop());

const open: (Redis | CoordinatorLease)[] = [];
afterEach(async () => {
  for (const thing of open.splice(0)) await (thing instanceof Redis ? thing.quit() : thing.stop());
});

let prefixes = 0;
/** Hubs racing for one lease, each with its own connection; every test has its own keys. */
function hubs(names: string[], ttlMs = 600) {
  const prefix = `t${++prefixes}:`;
  const events: string[] = [];
  const leases = names.map((hubId) => {
    const connection = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 });
    connection.on('error', () => undefined);
    const lease = new CoordinatorLease({
      redis: connection,
      hubId,
      ttlMs,
      renewMs: ttlMs / 4,
      prefix,
      onAcquired: (epoch) => events.push(`${hubId} acquired ${epoch}`),
      onLost: (epoch, reason) => events.push(`${hubId} lost ${epoch}: ${reason}`),
    });
    open.push(lease, connection);
    return lease;
  });
  return { leases, events };
}

const waitUntil = async (what: string, done: () => boolean, timeoutMs = 5000) => {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('the coordinator lease on a real Redis', () => {
  it('three hubs race: exactly one coordinates, under epoch 1, and keeps it while it renews', async () => {
    // Execute
    const { leases, events } = hubs(['A', 'B', 'C']);
    for (const lease of leases) lease.start();
    await waitUntil('a coordinator', () => leases.some((l) => l.epoch !== null));
    await new Promise((r) => setTimeout(r, 1500)); // more than two lease lifetimes

    // Assert
    expect(leases.filter((l) => l.epoch !== null).map((l) => l.epoch)).toEqual([1]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatch(/^[ABC] acquired 1$/);
  });

  it('a coordinator that freezes loses the lease to another hub with a higher epoch, and learns it lost when it wakes', async () => {
    // Prepare
    const { leases, events } = hubs(['A', 'B']);
    const [a, b] = leases as [CoordinatorLease, CoordinatorLease];
    a.start();
    await waitUntil('A to coordinate', () => a.epoch === 1);
    b.start();

    // Execute: A stops renewing without letting go (a paused process), then comes back.
    await a.stop({ release: false });
    await waitUntil('B to take over', () => b.epoch !== null);
    a.start();
    await waitUntil('A to notice', () => events.some((e) => e.startsWith('A lost')));

    // Assert: B took over with the next epoch; A gave up epoch 1.
    expect(b.epoch).toBe(2);
    expect(a.epoch).toBeNull();
    expect(events).toEqual(['A acquired 1', 'B acquired 2', 'A lost 1: another hub holds the lease']);
  });

  it('a hub that stops releases the lease at once: the next takes it without waiting for it to expire', async () => {
    // Prepare: a long lease, so that waiting for expiry would show.
    const { leases } = hubs(['A', 'B'], 10_000);
    const [a, b] = leases as [CoordinatorLease, CoordinatorLease];
    a.start();
    await waitUntil('A to coordinate', () => a.epoch !== null);
    b.start();

    // Execute
    await a.stop();

    // Assert
    await waitUntil('B to take over', () => b.epoch !== null, 4000);
    expect(b.epoch).toBe(2);
  });
});
