import {
  PROTOCOL_VERSION,
  type AdminSnapshot,
  type ClientToServerEvents,
  type ParticipantInfo,
  type ParticipantsDiff,
  type ServerToClientEvents,
} from '@tabula/core';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createHub } from './hub.js';
import { ParticipantsFeed } from './participants-feed.js';

type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
const TOKEN = 'test-admin-token-0123';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startHub(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tabula-hub-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const hub = await createHub({ dataDir, adminToken: TOKEN });
  cleanups.push(() => hub.close());
  await new Promise<void>((resolve) => hub.http.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(hub.http.address() as AddressInfo).port}`;
}

/** A participant as the hub lists it; fields these tests do not look at are left out. */
const entry = (id: string, patch: Partial<ParticipantInfo> = {}): ParticipantInfo =>
  ({
    id,
    connected: true,
    backend: 'test',
    examples: 10,
    heldOut: false,
    validation: false,
    dataSource: 'own',
    scenario: null,
    assignedIndex: null,
    state: 'waiting',
    lastSeen: 1,
    lastRound: null,
    lastLatencyMs: null,
    selected: 0,
    answered: 0,
    missStreak: 0,
    ...patch,
  }) satisfies ParticipantInfo;

async function connect(url: string, auth: Record<string, string> = {}): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, auth });
  cleanups.push(() => void socket.disconnect());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

describe('ParticipantsFeed.diff', () => {
  it('carries only the entries that changed since the last diff, whole, and the ids that are gone', () => {
    // Prepare
    let list = [entry('a'), entry('b'), entry('c')];
    const feed = new ParticipantsFeed(
      () => list,
      () => true,
      () => undefined,
    );

    // Execute + Assert
    expect(feed.diff()).toEqual({ changed: list, removed: [] });
    expect(feed.diff()).toEqual({ changed: [], removed: [] });
    list = [entry('a'), entry('b', { state: 'training', lastSeen: 2 }), entry('d')];
    expect(feed.diff()).toEqual({ changed: [list[1], list[2]], removed: ['c'] });
    expect(feed.diff()).toEqual({ changed: [], removed: [] });
  });
});

describe('admin:participants', () => {
  it('sends dashboards a few diffs of what changed, not the whole list per change', async () => {
    // Prepare: a dashboard and three participants.
    const url = await startHub();
    const admin = await connect(url, { role: 'admin', token: TOKEN });
    const diffs: ParticipantsDiff[] = [];
    admin.on('admin:participants', (diff) => diffs.push(diff));
    const sockets = new Map<string, ClientSocket>();
    for (const id of ['part-a', 'part-b', 'part-c']) {
      const socket = await connect(url);
      expect(
        await socket.timeout(5000).emitWithAck('participant:hello', {
          protocolVersion: PROTOCOL_VERSION,
          participantId: id,
          backend: 'test',
          examples: 10,
          heldOut: false,
          dataSource: 'own',
        }),
      ).toMatchObject({ ok: true });
      sockets.set(id, socket);
    }
    const known = new Map<string, ParticipantInfo>();
    const settled = (until: (known: Map<string, ParticipantInfo>) => boolean) =>
      expect
        .poll(() => {
          for (const diff of diffs.splice(0)) for (const p of diff.changed) known.set(p.id, p);
          return until(known);
        })
        .toBe(true);
    await settled((k) => ['part-a', 'part-b', 'part-c'].every((id) => k.get(id)?.state === 'waiting'));

    // Execute: one participant changes state 42 times in a burst, ending with 'training'.
    const states = ['downloading', 'training', 'uploading', 'waiting'] as const;
    const seen: ParticipantsDiff[] = [];
    admin.on('admin:participants', (diff) => seen.push(diff));
    for (let i = 0; i < 42; i++) sockets.get('part-a')!.emit('participant:status', { state: states[i % 4]! });
    await settled((k) => k.get('part-a')?.state === 'training');

    // Assert: fewer messages than changes, each naming only the participant that changed.
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThan(42);
    for (const diff of seen) {
      expect(diff.removed).toEqual([]);
      expect(diff.changed.map((p) => p.id)).toEqual(['part-a']);
    }
  });

  it('starts a dashboard from the whole list in its snapshot', async () => {
    // Prepare
    const url = await startHub();
    const participant = await connect(url);
    await participant.timeout(5000).emitWithAck('participant:hello', {
      protocolVersion: PROTOCOL_VERSION,
      participantId: 'part-one',
      backend: 'test',
      examples: 10,
      heldOut: false,
      dataSource: 'own',
    });

    // Execute
    const admin: ClientSocket = io(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      auth: { role: 'admin', token: TOKEN },
    });
    cleanups.push(() => void admin.disconnect());
    const snapshot = await new Promise<AdminSnapshot>((resolve) => admin.once('admin:state', resolve));

    // Assert
    expect(snapshot.participants.map((p) => p.id)).toEqual(['part-one']);
  });
});
