import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { scenarioKey, type Hello, type ParticipantInfo, type ParticipantState, type ScenarioSpec } from '@tabula/core';

/** A participant the hub has seen, connected or not. */
export interface RegistryEntry {
  id: string;
  socketId: string | null;
  backend: string;
  examples: number;
  heldOut: boolean;
  /** Holds a validation shard: never selected, neither trains nor joins the meta-test. */
  validation: boolean;
  dataSource: Hello['dataSource'];
  scenario: ScenarioSpec | null;
  assignedIndex: number | null;
  state: ParticipantState;
  lastSeen: number;
  lastRound: number | null;
  lastLatencyMs: number | null;
  /** Rounds it was sent work in, rounds it answered, and how many selections in a row it let pass. */
  selected: number;
  answered: number;
  missStreak: number;
}

/** Hello a known id claims with: the secret the hub issued at its first hello. */
export type IdentityClaim =
  { ok: true; entry: RegistryEntry; secret: string; replacedSocket: string | null } | { ok: false; error: string };

/**
 * Who is connected and what they hold. Separate from the strategy (which only ever sees ids): the registry
 * survives reconnects, so a tab that reloads takes its old identity and data assignment back.
 */
export class Registry {
  private readonly byId = new Map<string, RegistryEntry>();
  private readonly idBySocket = new Map<string, string>();
  /** sha256 of each participant's secret: the hub never keeps the secret itself. */
  private readonly secretHashes = new Map<string, Buffer>();

  constructor(private readonly onChange: () => void = () => undefined) {}

  /**
   * Registers a hello from a socket. Participant ids are public (rounds list them), so an id alone proves nothing:
   * a connection that is not yet anybody may take a known id only with the secret issued at that id's first hello,
   * and a connection that already is a participant stays that one participant. An unknown id is new (or comes back
   * after the hub restarted): it keeps the secret it brings, or gets a fresh one. When the id was still attached to
   * another socket (the same tab reloaded before its old connection timed out), that socket is returned to be dropped.
   */
  join(socketId: string, hello: Hello & { readonly validation?: boolean }, now: number): IdentityClaim {
    const current = this.idBySocket.get(socketId);
    if (current && hello.participantId !== undefined && hello.participantId !== current) {
      return { ok: false, error: `this connection is already participant ${current}: one identity per connection` };
    }
    const id = current ?? hello.participantId ?? `p-${randomBytes(6).toString('hex')}`;
    const previous = this.byId.get(id);
    let secret = hello.participantSecret ?? '';
    if (previous && !current) {
      const expected = this.secretHashes.get(id);
      if (!hello.participantSecret || !expected || !timingSafeEqual(hashOf(hello.participantSecret), expected)) {
        return {
          ok: false,
          error: `participant id ${id} is taken: the secret ${hello.participantSecret ? 'does not match' : 'is missing'} (a tab keeps it beside its id)`,
        };
      }
    } else if (!previous) {
      secret ||= randomBytes(18).toString('base64url');
      this.secretHashes.set(id, hashOf(secret));
    }
    const replacedSocket = previous?.socketId && previous.socketId !== socketId ? previous.socketId : null;
    if (replacedSocket) this.idBySocket.delete(replacedSocket);
    const entry: RegistryEntry = {
      id,
      socketId,
      backend: hello.backend,
      examples: hello.examples,
      heldOut: hello.heldOut,
      validation: hello.validation ?? false,
      dataSource: hello.dataSource,
      scenario: hello.scenario ?? previous?.scenario ?? null,
      assignedIndex: hello.assignedIndex ?? (hello.dataSource === 'assigned' ? (previous?.assignedIndex ?? null) : null),
      state: 'waiting',
      lastSeen: now,
      lastRound: previous?.lastRound ?? null,
      lastLatencyMs: previous?.lastLatencyMs ?? null,
      selected: previous?.selected ?? 0,
      answered: previous?.answered ?? 0,
      missStreak: previous?.missStreak ?? 0,
    };
    this.byId.set(id, entry);
    this.idBySocket.set(socketId, id);
    this.onChange();
    return { ok: true, entry, secret, replacedSocket };
  }

  /**
   * Forgets participants disconnected since before `before` (their identity and secret too); the records of the
   * rounds they took part in stay in the store. Returns how many were forgotten.
   */
  evictDisconnected(before: number): number {
    let evicted = 0;
    for (const [id, entry] of this.byId) {
      if (entry.socketId === null && entry.lastSeen < before) {
        this.byId.delete(id);
        this.secretHashes.delete(id);
        evicted++;
      }
    }
    if (evicted) this.onChange();
    return evicted;
  }

  /** A round it was sent work in ended: it answered, or let the round pass. */
  recordOutcome(id: string, answered: boolean): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    entry.selected++;
    if (answered) {
      entry.answered++;
      entry.missStreak = 0;
    } else {
      entry.missStreak++;
    }
    this.onChange();
  }

  get size(): number {
    return this.byId.size;
  }

  /** The socket closed: the participant stays known (it may come back) but is no longer connected. */
  leave(socketId: string, now: number): RegistryEntry | null {
    const id = this.idBySocket.get(socketId);
    if (!id) return null;
    this.idBySocket.delete(socketId);
    const entry = this.detach(id);
    if (entry) entry.lastSeen = now;
    this.onChange();
    return entry;
  }

  idOf(socketId: string): string | null {
    return this.idBySocket.get(socketId) ?? null;
  }

  get(id: string): RegistryEntry | null {
    return this.byId.get(id) ?? null;
  }

  update(
    id: string,
    patch: Partial<
      Pick<RegistryEntry, 'state' | 'lastSeen' | 'lastRound' | 'lastLatencyMs' | 'examples' | 'heldOut' | 'scenario' | 'assignedIndex'>
    >,
  ): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    Object.assign(entry, patch);
    this.onChange();
  }

  connected(): RegistryEntry[] {
    return [...this.byId.values()].filter((e) => e.socketId !== null);
  }

  /** Assigned indices of a scenario held by connected participants other than `except`. */
  takenIndices(key: string, except: string): Set<number> {
    const taken = new Set<number>();
    for (const e of this.connected()) {
      if (e.id !== except && e.assignedIndex !== null && e.scenario && scenarioKey(e.scenario) === key) taken.add(e.assignedIndex);
    }
    return taken;
  }

  list(): ParticipantInfo[] {
    return [...this.byId.values()]
      .map((e) => ({
        id: e.id,
        connected: e.socketId !== null,
        backend: e.backend,
        examples: e.examples,
        heldOut: e.heldOut,
        validation: e.validation,
        dataSource: e.dataSource,
        scenario: e.scenario,
        assignedIndex: e.assignedIndex,
        state: e.state,
        lastSeen: e.lastSeen,
        lastRound: e.lastRound,
        lastLatencyMs: e.lastLatencyMs,
        selected: e.selected,
        answered: e.answered,
        missStreak: e.missStreak,
      }))
      .sort((a, b) => Number(b.connected) - Number(a.connected) || a.id.localeCompare(b.id));
  }

  private detach(id: string): RegistryEntry | null {
    const entry = this.byId.get(id);
    if (!entry) return null;
    entry.socketId = null;
    entry.state = 'connecting';
    return entry;
  }
}

function hashOf(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
