import type { ClientToServerEvents, ParticipantSocket } from '@tabula/core';
import { io } from 'socket.io-client';
import type { HubSocket } from '../shared/socket-types.js';

/** A hub as GET /api/hubs lists it. */
export interface HubListing {
  readonly id: string;
  readonly facts: { readonly url?: string | null; readonly cluster?: boolean } | null;
}

/** Failed connection attempts to one hub, with several hubs, before the tab tries the next. */
export const ATTEMPTS_BEFORE_FAILOVER = 2;

export interface FailoverOptions {
  /** The hub that served the page (its origin). */
  readonly home: string;
  /** Reads a hub's list of live hubs; null when it cannot be read. */
  readonly listHubs?: (hub: string) => Promise<readonly HubListing[] | null>;
  /** A socket to `url`; websocket only with several hubs (design/scale-out.md §3: no sticky sessions). */
  readonly socketTo?: (url: string, websocketOnly: boolean) => HubSocket;
  /** The tab moved to another hub (shown to the person). */
  readonly onMoved?: (from: string, to: string) => void;
}

type Listener = (...args: never[]) => unknown;

/**
 * The tab's socket, as one hub or several. With one hub (the default) it is one socket.io connection to the page's
 * origin, which reconnects by itself. With several (the hub's list says so), it connects over WebSocket only, keeps
 * the list of live hubs, and when its hub cannot be reached it moves to the next one, keeping the session's
 * listeners: the session says hello there with the same id and secret, which the new hub checks with the others.
 */
export class FailoverSocket {
  private socket: HubSocket | null = null;
  private current: string;
  private readonly listeners: [string, Listener][] = [];
  /** Other live hubs, from the newest list read. */
  private others: string[] = [];
  private several = false;
  private failures = 0;
  private wanted = false;
  private opening: Promise<void> | null = null;
  /** Acked emits still waiting on the current socket: they end, refused, when the tab moves. */
  private readonly pending = new Set<() => void>();

  constructor(private readonly options: FailoverOptions) {
    this.current = options.home;
  }

  /** The hub the tab is connected to, or trying. */
  get hub(): string {
    return this.current;
  }

  get connected(): boolean {
    return this.socket?.connected ?? false;
  }

  connect(): this {
    this.wanted = true;
    if (this.socket) this.socket.connect();
    else this.opening ??= this.open(this.current);
    return this;
  }

  disconnect(): this {
    this.wanted = false;
    this.socket?.disconnect();
    return this;
  }

  on(event: string, listener: Listener): this {
    this.listeners.push([event, listener]);
    this.socket?.on(event as 'connect', listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    const at = this.listeners.findIndex(([e, l]) => e === event && l === listener);
    if (at >= 0) this.listeners.splice(at, 1);
    this.socket?.off(event as 'connect', listener);
    return this;
  }

  emit(event: 'participant:status', ...args: Parameters<ClientToServerEvents['participant:status']>): this {
    this.socket?.emit(event, ...args);
    return this;
  }

  /**
   * Acknowledged emits, which end when the tab moves: an update sent while its hub was going away waits in that
   * socket's buffer for an ack that can never come, and would hold the tab for the whole timeout.
   */
  timeout(ms: number): ReturnType<HubSocket['timeout']> {
    if (!this.socket) throw new Error('not connected to a hub');
    const acked = this.socket.timeout(ms);
    const emitWithAck = (...args: unknown[]) =>
      new Promise((resolve, reject) => {
        const abandon = () => reject(new Error(`the tab moved to another hub (${this.current}) before its hub answered`));
        this.pending.add(abandon);
        (acked.emitWithAck as (...a: unknown[]) => Promise<unknown>)(...args)
          .then(resolve, reject)
          .finally(() => this.pending.delete(abandon));
      });
    return Object.assign(Object.create(acked) as typeof acked, { emitWithAck: emitWithAck as typeof acked.emitWithAck });
  }

  /** Moves to `url` now (a hub above its budget named it), with the same listeners. */
  moveTo(url: string): void {
    if (url === this.current) return;
    const from = this.current;
    this.replace(url);
    this.options.onMoved?.(from, url);
  }

  private async open(url: string): Promise<void> {
    await this.readHubs(url);
    const socketTo = this.options.socketTo ?? defaultSocket;
    const socket = socketTo(url, this.several);
    for (const [event, listener] of this.listeners) socket.on(event as 'connect', listener);
    socket.on('connect', () => {
      this.failures = 0;
      void this.readHubs(url);
    });
    socket.on('connect_error', () => {
      if (this.several && ++this.failures >= ATTEMPTS_BEFORE_FAILOVER) this.failover();
    });
    // A hub that went away mid-connection: socket.io retries it; with several hubs the retries' errors move the tab.
    this.socket = socket;
    this.current = url;
    this.opening = null;
    if (this.wanted) socket.connect();
  }

  private failover(): void {
    const next = this.others.find((url) => url !== this.current);
    if (next) this.moveTo(next);
  }

  private replace(url: string): void {
    const old = this.socket;
    this.socket = null;
    this.failures = 0;
    if (old) {
      old.removeAllListeners();
      old.disconnect();
    }
    this.current = url;
    for (const abandon of [...this.pending]) abandon();
    this.pending.clear();
    this.opening = this.open(url);
  }

  private async readHubs(from: string): Promise<void> {
    const listHubs = this.options.listHubs ?? defaultListHubs;
    const hubs = await listHubs(from);
    if (!hubs) return;
    this.several = hubs.some((h) => h.facts?.cluster === true);
    const urls = hubs.flatMap((h) => (typeof h.facts?.url === 'string' ? [h.facts.url] : []));
    this.others = urls.filter((url) => url !== from);
  }
}

/** Satisfies the session's socket (compile-time check that the two stay in step). */
export const asParticipantSocket = (socket: FailoverSocket): ParticipantSocket => socket;

async function defaultListHubs(hub: string): Promise<readonly HubListing[] | null> {
  try {
    const response = await fetch(`${hub}/api/hubs`);
    return response.ok ? ((await response.json()) as HubListing[]) : null;
  } catch {
    return null;
  }
}

function defaultSocket(url: string, websocketOnly: boolean): HubSocket {
  return io(url, {
    path: '/socket.io',
    auth: { role: 'participant' },
    autoConnect: false,
    ...(websocketOnly ? { transports: ['websocket'] } : {}),
  });
}
