import { PROTOCOL_VERSION, type ClientToServerEvents, type RoundTask, type ServerToClientEvents } from '@tabula/core';
import { io, type Socket } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { TINY_MLP, afterThisTest, startTestHub, waitFor } from './test-hub.js';

/** A participant that takes every task and never answers. */
async function silentParticipant(url: string) {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  afterThisTest(() => void socket.disconnect());
  const tasks: RoundTask[] = [];
  const cancels: Parameters<ServerToClientEvents['round:cancel']>[0][] = [];
  socket.on('round:start', (task) => tasks.push(task));
  socket.on('round:cancel', (info) => cancels.push(info));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  const welcome: unknown = await socket.timeout(5000).emitWithAck('participant:hello', {
    protocolVersion: PROTOCOL_VERSION,
    backend: 'test',
    examples: 10,
    heldOut: false,
    dataSource: 'own',
  });
  expect(welcome).toMatchObject({ ok: true });
  return { tasks, cancels };
}

describe('round:cancel', () => {
  it('tells a participant its round was abandoned: when it missed the deadline, and when an admin stopped the run', async () => {
    // Prepare
    const { hub, url } = await startTestHub();
    const participant = await silentParticipant(url);
    const start = async (roundDeadlineMs: number): Promise<string> => {
      const started = await hub.startRun({ algorithm: 'fedavg', model: TINY_MLP, rounds: 1, waitForParticipantsMs: 5000, roundDeadlineMs });
      if (!started.ok) throw new Error(started.error);
      return started.data.id;
    };
    const cancelsOf = (runId: string) => participant.cancels.filter((c) => c.runId === runId);

    // Execute: a round it lets pass
    const missed = await start(200);
    await waitFor(() => cancelsOf(missed).length > 0, 'the cancel at the deadline');
    await hub.stopRun(missed);

    // Assert
    expect(cancelsOf(missed)[0]).toEqual({ runId: missed, round: 1, reason: 'the deadline passed' });

    // Execute: an admin stops a run while its round is open
    const stopped = await start(60_000);
    await waitFor(() => participant.tasks.some((t) => t.runId === stopped), 'the round to start');
    await hub.stopRun(stopped);
    await waitFor(() => cancelsOf(stopped).length > 0, 'the cancel on stop');

    // Assert
    expect(cancelsOf(stopped)).toEqual([{ runId: stopped, round: 1, reason: 'stopped by an admin' }]);
  });
});
