import { privacySpent, type RunGuarantee, type RunSummary } from '@tabula/core';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import {
  TEST_TOKEN,
  TINY_LENGTH,
  afterThisTest,
  deltaFrame,
  runConfig,
  scriptedClient,
  startTestHub,
  updateMeta,
  waitFor,
  type ClientSocket,
} from './test-hub.js';

const ADMIN = { authorization: `Bearer ${TEST_TOKEN}` };

/** Answers every task it gets with a small delta, until the socket closes. */
function answerEveryTask(client: Awaited<ReturnType<typeof scriptedClient>>): void {
  void (async () => {
    for (;;) {
      const { task } = await client.nextTask();
      if (!client.socket.connected) return;
      await client.submit(updateMeta(task, 5), deltaFrame(task, new Float32Array(TINY_LENGTH).fill(0.1)));
    }
  })();
}

/** Every event a socket hears, with its arguments as JSON (binary frames as {}). */
async function listener(url: string, auth: Record<string, string>): Promise<{ socket: ClientSocket; heard: string[] }> {
  const socket: ClientSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth });
  afterThisTest(() => void socket.disconnect());
  const heard: string[] = [];
  socket.onAny((event: string, ...args: unknown[]) => heard.push(`${event} ${JSON.stringify(args)}`));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return { socket, heard };
}

async function startRun(url: string, config: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${url}/api/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...ADMIN },
    body: JSON.stringify(config),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as RunSummary).id;
}

const IDS = ['tab-secret-aaaa', 'tab-secret-bbbb'];

describe('hub: who took part is the admin’s to see', () => {
  it('in a DP run, shows an unauthenticated client no participant, failure, count or metric, over HTTP or sockets; the admin sees them', async () => {
    // Prepare: two trainers, a bare socket and a dashboard listening; q 1, z 2 and a budget two rounds meet.
    const { hub, url } = await startTestHub();
    const two = privacySpent({ samplingRate: 1, noiseMultiplier: 2, rounds: 2, delta: 1e-5 }).epsilon;
    const three = privacySpent({ samplingRate: 1, noiseMultiplier: 2, rounds: 3, delta: 1e-5 }).epsilon;
    const clients = await Promise.all(IDS.map((id) => scriptedClient(url, id)));
    clients.forEach(answerEveryTask);
    const stranger = await listener(url, { role: 'participant' });
    const admin = await listener(url, { role: 'admin', token: TEST_TOKEN });

    // Execute
    const id = await startRun(
      url,
      runConfig({
        perRound: undefined,
        rounds: 10,
        minParticipants: 2,
        privacy: { mode: 'central', clip: 1, noiseMultiplier: 2, samplingRate: 1, delta: 1e-5, epsilonBudget: (two + three) / 2 },
      }),
    );
    await waitFor(() => hub.store.getRun(id)?.status === 'completed', 'the budget to stop the run');
    const open = await fetch(`${url}/api/runs/${id}`);
    const openText = await open.text();
    const csv = await (await fetch(`${url}/api/runs/${id}/rounds.csv`)).text();
    const full = (await (await fetch(`${url}/api/runs/${id}`, { headers: ADMIN })).json()) as { rounds: { participants: string[] }[] };
    const fullCsv = await (await fetch(`${url}/api/runs/${id}/rounds.csv`, { headers: ADMIN })).text();
    const guarantee = (await (await fetch(`${url}/api/privacy`)).json()) as RunGuarantee;

    // Assert: the public view has ε but no ids, counts, bytes, metrics or round times.
    expect(open.status).toBe(200);
    for (const tab of IDS) expect(openText + csv + stranger.heard.join('\n')).not.toContain(tab);
    const shown = JSON.parse(openText) as { rounds: Record<string, unknown>[] };
    expect(
      shown.rounds.map((r) => [
        r.round,
        r.participants,
        r.failures,
        r.participantCount,
        r.failureCount,
        r.bytesUp,
        r.metrics,
        r.durationMs,
      ]),
    ).toEqual([
      [1, undefined, undefined, null, null, null, null, null],
      [2, undefined, undefined, null, null, null, null, null],
    ]);
    expect(shown.rounds.map((r) => r.startedAt)).toEqual([null, null]);
    expect((shown.rounds[1]!.privacy as { epsilon: number }).epsilon).toBeCloseTo(two, 12);
    expect(csv.trim().split('\r\n')[2]).toMatch(new RegExp(`^${id},2,1,completed,,,,,,,,,,,,[0-9.]+,$`));
    expect(guarantee).toMatchObject({ runId: id, status: 'completed', rounds: 2, delta: 1e-5 });
    expect(guarantee.epsilon).toBeCloseTo(two, 12);
    // The bare socket heard no admin event; participant lists need the token.
    expect(stranger.heard.filter((e) => e.startsWith('admin:'))).toEqual([]);
    expect((await fetch(`${url}/api/participants`)).status).toBe(401);
    expect((await fetch(`${url}/api/runs/${id}`, { headers: { authorization: 'Bearer wrong-token-0123456' } })).status).toBe(401);
    // The admin sees who took part, over HTTP and on the dashboard's socket.
    expect(full.rounds.map((r) => [...r.participants].sort())).toEqual([IDS, IDS]);
    expect(fullCsv.trim().split('\r\n')[1]).toMatch(new RegExp(`^${id},1,1,completed,[^,]+,\\d+,2,0,`));
    expect(admin.heard.filter((e) => e.startsWith('admin:round')).join('\n')).toContain(IDS[0]);
    const listed = (await (await fetch(`${url}/api/participants`, { headers: ADMIN })).json()) as { id: string }[];
    expect(listed.map((p) => p.id).sort()).toEqual(IDS);
  });

  it('in a run without privacy, shows counts but no participant list without the token', async () => {
    // Prepare
    const { hub, url } = await startTestHub();
    const clients = await Promise.all(IDS.map((id) => scriptedClient(url, id)));
    clients.forEach(answerEveryTask);

    // Execute
    const id = await startRun(url, runConfig({ perRound: 2, minParticipants: 2 }));
    await waitFor(() => hub.store.getRun(id)?.status === 'completed', 'the run to complete');
    const openText = await (await fetch(`${url}/api/runs/${id}`)).text();
    const full = (await (await fetch(`${url}/api/runs/${id}`, { headers: ADMIN })).json()) as { rounds: { participants: string[] }[] };

    // Assert
    for (const tab of IDS) expect(openText).not.toContain(tab);
    const shown = JSON.parse(openText) as { rounds: Record<string, unknown>[] };
    expect(shown.rounds.map((r) => [r.participants, r.failures, r.participantCount, r.failureCount])).toEqual([
      [undefined, undefined, 2, 0],
    ]);
    expect(shown.rounds[0]!.metrics).toMatchObject({ loss: 0.5 });
    expect([...full.rounds[0]!.participants].sort()).toEqual(IDS);
    expect((await fetch(`${url}/api/participants`)).status).toBe(401);
    expect(await (await fetch(`${url}/api/privacy`)).json()).toBeNull();
  });
});
