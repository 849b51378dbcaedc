import { describe, expect, it } from 'vitest';
import type { HubSocket } from '../shared/socket-types.js';
import { ATTEMPTS_BEFORE_FAILOVER, FailoverSocket, type HubListing } from './hub-failover.js';

/** A socket.io client socket as far as the failover uses one: it connects when told and fails when the test says. */
class FakeSocket {
  connected = false;
  connects = 0;
  private readonly listeners = new Map<string, ((...args: unknown[]) => void)[]>();
  constructor(
    readonly url: string,
    readonly websocketOnly: boolean,
  ) {}
  on(event: string, listener: (...args: unknown[]) => void) {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  off(event: string, listener: (...args: unknown[]) => void) {
    this.listeners.set(
      event,
      (this.listeners.get(event) ?? []).filter((l) => l !== listener),
    );
    return this;
  }
  removeAllListeners() {
    this.listeners.clear();
    return this;
  }
  emit(event: string, ...args: unknown[]) {
    for (const listener of this.listeners.get(event) ?? []) listener(...args);
    return true;
  }
  /** An acknowledged emit whose ack never comes (its hub went away with the packet in the buffer). */
  timeout() {
    return { emitWithAck: () => new Promise(() => undefined) };
  }
  listenerCount(event: string) {
    return this.listeners.get(event)?.length ?? 0;
  }
  connect() {
    this.connects++;
    return this;
  }
  disconnect() {
    this.connected = false;
    return this;
  }
  up() {
    this.connected = true;
    this.emit('connect');
  }
}

const listing = (ids: string[], cluster: boolean): HubListing[] =>
  ids.map((id) => ({ id, facts: { url: `http://${id}.test`, ...(cluster ? { cluster: true } : {}) } }));

function failover(hubs: HubListing[] | null) {
  const sockets: FakeSocket[] = [];
  const moves: string[] = [];
  const socket = new FailoverSocket({
    home: 'http://a.test',
    listHubs: () => Promise.resolve(hubs),
    socketTo: (url, websocketOnly) => {
      const fake = new FakeSocket(url, websocketOnly);
      sockets.push(fake);
      return fake as unknown as HubSocket;
    },
    onMoved: (from, to) => moves.push(`${from} -> ${to}`),
  });
  return { socket, sockets, moves };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('FailoverSocket', () => {
  it('with several hubs: WebSocket only, and when its hub cannot be reached it moves to the next, listeners and all', async () => {
    // Prepare: connected to hub a, with a listener the session added before the socket existed.
    const { socket, sockets, moves } = failover(listing(['a', 'b', 'c'], true));
    const heard: string[] = [];
    socket.on('connect', () => heard.push(`connected to ${socket.hub}`));
    socket.connect();
    await settle();
    sockets[0]!.up();

    // Execute: hub a goes away with an update in its buffer; socket.io's retries fail.
    const update = socket
      .timeout(30_000)
      .emitWithAck('update:submit', {} as never, new Uint8Array(0))
      .then(
        () => 'answered',
        (error: Error) => error.message,
      );
    for (let i = 0; i < ATTEMPTS_BEFORE_FAILOVER; i++) sockets[0]!.emit('connect_error', new Error('xhr poll error'));
    await settle();
    sockets[1]!.up();

    // Assert
    expect(sockets.map((s) => `${s.url} ${s.websocketOnly ? 'websocket' : 'any'} ${s.connects}`)).toEqual([
      'http://a.test websocket 1',
      'http://b.test websocket 1',
    ]);
    expect(moves).toEqual(['http://a.test -> http://b.test']);
    expect(heard).toEqual(['connected to http://a.test', 'connected to http://b.test']);
    expect(sockets[0]!.listenerCount('connect')).toBe(0);
    expect(socket.connected).toBe(true);
    // The update's wait ended when the tab moved, not after its 30 s.
    expect(await update).toBe('the tab moved to another hub (http://b.test) before its hub answered');
  });

  it('with one hub: the default transports, and it stays, however often the hub cannot be reached', async () => {
    // Prepare
    const { socket, sockets, moves } = failover(listing(['a'], false));
    socket.connect();
    await settle();

    // Execute
    for (let i = 0; i < 5; i++) sockets[0]!.emit('connect_error', new Error('xhr poll error'));
    await settle();

    // Assert
    expect(sockets.map((s) => `${s.url} ${s.websocketOnly ? 'websocket' : 'any'}`)).toEqual(['http://a.test any']);
    expect(moves).toEqual([]);
  });

  it('a hub list that cannot be read leaves the tab on its hub', async () => {
    const { socket, sockets } = failover(null);
    socket.connect();
    await settle();
    for (let i = 0; i < 5; i++) sockets[0]!.emit('connect_error', new Error('gone'));
    await settle();
    expect(sockets).toHaveLength(1);
  });
});
