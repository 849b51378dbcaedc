import { privacySpent, type RoundSummary, type RunSummary } from '@tabula/core';
import { describe, expect, it } from 'vitest';
import { TEST_TOKEN, TINY_LENGTH, deltaFrame, runConfig, scriptedClient, startTestHub, updateMeta, waitFor } from './test-hub.js';

/** Answers every task it gets with a delta of norm 10 (every entry 10/√6), until the socket closes. */
function answerEveryTask(client: Awaited<ReturnType<typeof scriptedClient>>, clips: number[], acks: unknown[]): void {
  void (async () => {
    for (;;) {
      const { task } = await client.nextTask();
      clips.push(task.clip ?? Number.NaN);
      if (!client.socket.connected) return;
      acks.push(
        await client.submit(updateMeta(task, 5), deltaFrame(task, new Float32Array(TINY_LENGTH).fill(10 / Math.sqrt(TINY_LENGTH)))),
      );
    }
  })();
}

describe('hub: a differentially private run', () => {
  it('stores ε with every round, shows it in GET /api/runs/:id, and completes before the round past the budget', async () => {
    // Prepare: q 1 (everyone, every round), z 2, δ 1e-5, and a budget that three rounds meet and a fourth would not.
    const { hub, url } = await startTestHub();
    const three = privacySpent({ samplingRate: 1, noiseMultiplier: 2, rounds: 3, delta: 1e-5 }).epsilon;
    const four = privacySpent({ samplingRate: 1, noiseMultiplier: 2, rounds: 4, delta: 1e-5 }).epsilon;
    const budget = (three + four) / 2;
    const clips: number[] = [];
    const acks: unknown[] = [];
    for (const id of ['dp-aaaa', 'dp-bbbb']) answerEveryTask(await scriptedClient(url, id), clips, acks);

    // Execute
    const response = await fetch(`${url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}` },
      body: JSON.stringify(
        runConfig({
          perRound: undefined,
          rounds: 10,
          minParticipants: 2,
          privacy: { mode: 'central', clip: 1, noiseMultiplier: 2, samplingRate: 1, delta: 1e-5, epsilonBudget: budget },
        }),
      ),
    });
    expect(response.status).toBe(201);
    const { id } = (await response.json()) as RunSummary;
    const run = await waitFor(() => hub.store.getRun(id)?.status !== 'running' && hub.store.getRun(id), 'the run to end');
    await waitFor(() => acks.length >= 6, 'the acks of the three rounds');
    const shown = (await (await fetch(`${url}/api/runs/${id}`)).json()) as RunSummary & { rounds: RoundSummary[] };

    // Assert
    expect([run.status, run.error, run.completedRounds]).toEqual(['completed', 'privacy budget reached', 3]);
    expect(shown.status).toBe('completed');
    expect(shown.error).toBe('privacy budget reached');
    const epsilons = shown.rounds.map((r) => r.privacy?.epsilon);
    expect(shown.rounds.map((r) => [r.round, r.status, r.privacy?.samplingRate, r.privacy?.delta])).toEqual([
      [1, 'completed', 1, 1e-5],
      [2, 'completed', 1, 1e-5],
      [3, 'completed', 1, 1e-5],
    ]);
    expect(epsilons[2]).toBeCloseTo(three, 12);
    expect(epsilons[0]!).toBeLessThan(epsilons[1]!);
    expect(epsilons[2]!).toBeLessThanOrEqual(budget);
    expect(hub.store.listRounds(id).map((r) => r.privacy?.epsilon)).toEqual(epsilons);
    expect(clips.slice(0, 6)).toEqual([1, 1, 1, 1, 1, 1]);
    // Acks tell no participant how many others answered (the count would reveal the secret sample).
    expect(acks.slice(0, 6)).toEqual([1, 1, 2, 2, 3, 3].map((round) => ({ ok: true, data: { round, received: 0 } })));
  });
});
