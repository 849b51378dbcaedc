import { PROTOCOL_VERSION, type Ack, type ParticipantSocket, type RoundTask, type RunSummary, type UpdateReceipt } from '@tabula/core';
import { describe, expect, it } from 'vitest';
import { TEST_TOKEN, runConfig, scriptedClient, secureTab, startTestHub, waitFor } from './test-hub.js';

// privacy.md §2.11's five participants (delta, examples), each delta twice over to fill the tiny model's 6 weights:
// FedAvg's mean is Σ n·Δ / Σ n = [14, 16, 38] / 16, twice.
const TABS = [
  { id: 'sa-aaaa', delta: [1, 2, 3], examples: 1 },
  { id: 'sa-bbbb', delta: [3, 2, 1], examples: 3 },
  { id: 'sa-cccc', delta: [0, 0, 8], examples: 2 },
  { id: 'sa-dddd', delta: [-2, 4, 0], examples: 6 },
  { id: 'sa-eeee', delta: [4, -4, 4], examples: 4 },
];
/** A tab's delta twice over: the tiny model's 6 weights. */
const twice = (tab: (typeof TABS)[number]) => ({ ...tab, delta: [...tab.delta, ...tab.delta] });
// Dyadic weights n/8 and integer deltas: the ring carries them exactly.
const SECURE = { maxGroup: 8, clip: 16, maxExamples: 8, stageTimeoutMs: 2000 };

/** The global weights after one round of server SGD at lr 1 from `global` with the mean delta `mean`. */
const stepped = (global: Float32Array, mean: number[]) => Array.from(global, (w, i) => Math.fround(w + mean[i % mean.length]!));

async function startSecureRun(url: string): Promise<string> {
  const response = await fetch(`${url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}` },
    body: JSON.stringify(runConfig({ perRound: 5, minParticipants: 5, secureAggregation: SECURE })),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as RunSummary).id;
}

describe('hub: a secure aggregation run over real sockets', () => {
  it('five participants with unequal example counts: the new weights are exactly the example-weighted mean', async () => {
    // Prepare
    const { hub, url } = await startTestHub();
    const sent: { event: string; payload: unknown }[] = [];
    const tabs = [];
    for (const tab of TABS) tabs.push(await secureTab(url, twice(tab), sent));

    // Execute
    const id = await startSecureRun(url);
    const run = await waitFor(() => hub.store.getRun(id)?.status !== 'running' && hub.store.getRun(id), 'the run to end');

    // Assert
    expect([run.status, run.error]).toEqual(['completed', null]);
    expect([...hub.store.latestCheckpoint(id)!.weights]).toEqual(stepped(tabs[0]!.global!, [0.875, 1, 2.375]));
    const [round] = hub.store.listRounds(id);
    expect(round!.participants).toEqual(TABS.map((t) => t.id));
    // The loss travels as a stochastically rounded extra: within a few ring steps of 100/2^28 each.
    expect(round!.metrics.loss).toBeCloseTo(0.25, 5);
    expect(round!.secureAggregation!.stages.every((s) => s.asked === 5 && s.answered === 5)).toBe(true);
    // What went up: an address without counts or metrics, keys, sealed shares, masked frames, unmask shares.
    const ready = sent.filter((m) => m.event === 'update:ready').map((m) => m.payload);
    expect(ready).toHaveLength(5);
    for (const payload of ready) expect(Object.keys(payload as object).sort()).toEqual(['modelVersion', 'round', 'runId']);
    const frames = sent.filter((m) => m.event === 'secagg:mask').map((m) => (m.payload as { data: { frame: Uint8Array } }).data.frame);
    // 6 weights and 6 extras, 4 bytes each, after a header for this run id.
    const header = frames[0]!.byteLength - 4 * 12;
    expect(frames.map((f) => f.byteLength - header)).toEqual([48, 48, 48, 48, 48]);
    expect(new DataView(frames[0]!.buffer, frames[0]!.byteOffset).getUint16(4, true)).toBe(PROTOCOL_VERSION);
  });

  it('a participant that closes its socket after the share stage: exactly the weighted mean of the other four', async () => {
    // Prepare
    const { hub, url } = await startTestHub();
    const sent: { event: string; payload: unknown }[] = [];
    const tabs = [];
    for (const tab of TABS) tabs.push(await secureTab(url, twice(tab), sent, tab.id === 'sa-dddd' ? 'mask' : undefined));

    // Execute
    const id = await startSecureRun(url);
    const run = await waitFor(() => hub.store.getRun(id)?.status !== 'running' && hub.store.getRun(id), 'the run to end');

    // Assert
    expect(run.status).toBe('completed');
    const mean = [26 / 10, -8 / 10, 38 / 10].map(Math.fround);
    expect([...hub.store.latestCheckpoint(id)!.weights]).toEqual(stepped(tabs[0]!.global!, mean));
    const [round] = hub.store.listRounds(id);
    expect(round!.participants).toEqual(['sa-aaaa', 'sa-bbbb', 'sa-cccc', 'sa-eeee']);
    expect(round!.failures.map((f) => f.participantId)).toEqual(['sa-dddd']);
    expect(round!.failures[0]!.reason).toMatch(/^left secure aggregation at its mask stage: disconnected/);
    expect(round!.secureAggregation!.stages.map((s) => `${s.stage} ${s.answered}/${s.asked}`)).toEqual([
      'advertise 5/5',
      'share 5/5',
      'mask 4/5',
      'unmask 4/4',
    ]);
  });

  it('refuses an update sent in the clear in a secure run, and update:ready in a plain one', async () => {
    // Prepare
    const { url } = await startTestHub();
    const client = await scriptedClient(url, 'sa-plain', 10);
    const response = await fetch(`${url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}` },
      body: JSON.stringify(runConfig({ perRound: 1 })),
    });
    expect(response.status).toBe(201);
    const { task }: { task: RoundTask } = await client.nextTask();

    // Execute
    const ready: Ack<UpdateReceipt> = await (client.socket as ParticipantSocket)
      .timeout(5000)
      .emitWithAck('update:ready', { runId: task.runId, round: task.round, modelVersion: task.modelVersion });

    // Assert
    expect(task.secureAggregation).toBeUndefined();
    expect(ready.ok || `${ready.code}: ${ready.error}`).toMatch(/^invalid: .*does not use secure aggregation/);
  });
});
