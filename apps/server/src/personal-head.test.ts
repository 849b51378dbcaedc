// A personal-head run (fedrep) through a real hub: only the body crosses the wire; the exported model is complete.
import { freshHead, headLength, headOffset, initialWeights, parameterCount, type MlpSpec, type RunSummary } from '@tabula/core';
import { describe, expect, it } from 'vitest';
import { TEST_TOKEN, deltaFrame, runConfig, scriptedClient, startTestHub, updateMeta, waitFor } from './test-hub.js';

/** 2 inputs -> 3 hidden -> 2 outputs: a 9-value body (2·3 + 3) and an 8-value head (3·2 + 2). */
const MODEL: MlpSpec = { kind: 'mlp', inputShape: [2], hidden: [3], outputs: 2, task: 'classification' };
const BODY = headOffset(MODEL);
const PARAMETERS = parameterCount(MODEL);

describe('a fedrep run on the hub', () => {
  it('moves body-only frames each way, refuses a full-model delta, and exports the body with a fresh head', async () => {
    // Prepare
    expect([BODY, PARAMETERS]).toEqual([9, 17]);
    const { hub, url } = await startTestHub();
    const [a, b] = await Promise.all(['head-a', 'head-b'].map((id) => scriptedClient(url, id)));
    const response = await fetch(`${url}/api/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}` },
      body: JSON.stringify(runConfig({ algorithm: 'fedrep', model: MODEL, minParticipants: 2 })),
    });
    const run = (await response.json()) as RunSummary;
    expect(response.status).toBe(201);

    // Execute: both receive the round; one first tries a delta of the whole model, then both send the body's.
    const [ta, tb] = await Promise.all([a!.nextTask(), b!.nextTask()]);
    const full = await a!.submit(updateMeta(ta.task, 1), deltaFrame(ta.task, new Float32Array(PARAMETERS).fill(1)));
    const acks = await Promise.all([
      a!.submit(updateMeta(ta.task, 1), deltaFrame(ta.task, new Float32Array(BODY).fill(1))),
      b!.submit(updateMeta(tb.task, 1), deltaFrame(tb.task, new Float32Array(BODY).fill(3))),
    ]);
    await waitFor(() => hub.store.getRun(run.id)?.status === 'completed', 'the run to complete');
    const bin = new Float32Array(await (await fetch(`${url}/api/model/weights.bin`)).arrayBuffer());
    const info = (await (await fetch(`${url}/api/model/info`)).json()) as Record<string, unknown>;
    const detail = (await (await fetch(`${url}/api/runs/${run.id}`)).json()) as Record<string, unknown>;

    // Assert: the hub sent the body alone (the seeded model's first 9 values) and took the body alone.
    expect(ta.weights).toEqual(initialWeights(MODEL, 7).slice(0, BODY));
    expect(full).toMatchObject({ ok: false, code: 'invalid-frame' });
    expect(acks).toMatchObject([{ ok: true }, { ok: true }]);
    const body = initialWeights(MODEL, 7)
      .slice(0, BODY)
      .map((w) => Math.fround(w + 2));
    expect(hub.store.latestCheckpoint(run.id)!.weights).toEqual(body);
    // weights.bin is the whole model: the averaged body, then the head a newcomer starts from.
    expect(bin).toHaveLength(PARAMETERS);
    expect(bin.subarray(0, BODY)).toEqual(body);
    expect(bin.subarray(BODY)).toEqual(freshHead(MODEL));
    expect(info).toMatchObject({ parameters: 17, sharedParameters: 9, headParameters: headLength(MODEL), headLayers: 1 });
    expect(detail).toMatchObject({ sharedParameters: 9, headParameters: 8, headLayers: 1 });
  });

  it('says a shared-everything run keeps no head', async () => {
    // Prepare
    const { hub, url } = await startTestHub();
    const started = await hub.startRun(runConfig({ algorithm: 'fedavg', model: MODEL, waitForParticipantsMs: 60_000 }));
    if (!started.ok) throw new Error(started.error);
    // Execute
    const detail = (await (await fetch(`${url}/api/runs/${started.data.id}`)).json()) as Record<string, unknown>;
    // Assert
    expect(detail).toMatchObject({ sharedParameters: 17, headParameters: 0, headLayers: 0 });
  });
});
