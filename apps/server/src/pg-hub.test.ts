import type { AddressInfo } from 'node:net';
import type { RoundSummary, RunSummary } from '@tabula/core';
import { describe, expect, it } from 'vitest';
import { createHub, type Hub } from './hub.js';
import { startPostgres } from './local-services.js';
import { TEST_TOKEN, TINY_LENGTH, afterThisTest, deltaFrame, runConfig, scriptedClient, updateMeta, waitFor } from './test-hub.js';

/** A hub whose record is in PostgreSQL at `databaseUrl`, listening on a free loopback port. */
async function pgHub(databaseUrl: string): Promise<{ hub: Hub; url: string }> {
  const hub = await createHub({ databaseUrl, adminToken: TEST_TOKEN });
  afterThisTest(() => hub.close());
  await new Promise<void>((resolve) => hub.http.listen(0, '127.0.0.1', resolve));
  return { hub, url: `http://127.0.0.1:${(hub.http.address() as AddressInfo).port}` };
}

const admin = { authorization: `Bearer ${TEST_TOKEN}` };

describe('a hub whose record is in PostgreSQL (TABULA_DATABASE_URL)', () => {
  it('runs rounds into the database, and another hub on the same database serves that run afterwards', async () => {
    // Prepare
    const postgres = await startPostgres();
    afterThisTest(() => postgres.stop());
    const first = await pgHub(postgres.url);
    const client = await scriptedClient(first.url, 'pg-aaaa', 5);
    void (async () => {
      for (;;) {
        const { task } = await client.nextTask();
        await client.submit(updateMeta(task, 5), deltaFrame(task, new Float32Array(TINY_LENGTH).fill(0.5)));
      }
    })();

    // Execute: a two-round run on the first hub, then the first hub closes and a second one opens the database.
    const started = await first.hub.startRun(runConfig({ rounds: 2, perRound: 1 }));
    if (!started.ok) throw new Error(started.error);
    const id = started.data.id;
    await waitFor(() => first.hub.active() === null, 'the run to end');
    await first.hub.close();
    const second = await pgHub(postgres.url);
    const shown = (await (await fetch(`${second.url}/api/runs/${id}`, { headers: admin })).json()) as RunSummary & {
      rounds: RoundSummary[];
    };

    // Assert
    expect([shown.status, shown.completedRounds]).toEqual(['completed', 2]);
    expect(shown.rounds.map((r) => `${r.round} ${r.status} ${r.participants.join()}`)).toEqual([
      '1 completed pg-aaaa',
      '2 completed pg-aaaa',
    ]);
    expect((await second.hub.record.latestCheckpoint(id))?.round).toBe(2);
    expect(second.hub.store).toBeNull();
  });

  it('pauses a run, with the reason, when the database goes away mid-run', async () => {
    // Prepare: a run that waits for participants nobody sends, so its first attempt fails and must be recorded.
    const postgres = await startPostgres();
    afterThisTest(() => postgres.stop());
    const { hub } = await pgHub(postgres.url);
    const started = await hub.startRun(runConfig({ rounds: 1, waitForParticipantsMs: 1500 }));
    if (!started.ok) throw new Error(started.error);
    const controller = hub.active()!;

    // Execute: PostgreSQL stops while the attempt waits, so its record (or a retry's) cannot be written.
    await postgres.stop();
    const final = await controller.start();

    // Assert: a storage failure pauses the run (an admin resumes it once the database is back); the hub stays up.
    expect(final.status).toBe('paused');
    expect(final.error).toMatch(/^storage failure in round 1: .*no round was saved yet: free space, then resume the run$/);
    expect(hub.active()).toBeNull();
  });
});
