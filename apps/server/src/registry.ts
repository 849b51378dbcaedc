import type { Hello, ParticipantInfo, ParticipantState, ScenarioSpec } from '@tabula/core';

/** A participant the hub has seen, connected or not. */
export interface RegistryEntry {
  id: string;
  socketId: string | null;
  backend: string;
  examples: number;
  heldOut: boolean;
  dataSource: Hello['dataSource'];
  scenario: ScenarioSpec | null;
  assignedIndex: number | null;
  state: ParticipantState;
  lastSeen: number;
  lastRound: number | null;
  lastLatencyMs: number | null;
}

/**
 * Who is connected and what they hold. Separate from the strategy (which only ever sees ids): the registry
 * survives reconnects, so a tab that reloads takes its old identity and data assignment back.
 */
export class Registry {
  private readonly byId = new Map<string, RegistryEntry>();
  private readonly idBySocket = new Map<string, string>();

  constructor(private readonly onChange: () => void = () => undefined) {}

  /**
   * Registers a hello. Returns the entry and, when this id was still attached to another socket (a reloaded
   * tab whose old connection has not timed out yet), that socket's id so the caller can drop it.
   */
  join(socketId: string, id: string, hello: Hello, now: number): { entry: RegistryEntry; replacedSocket: string | null } {
    const previous = this.byId.get(id);
    const replacedSocket = previous?.socketId && previous.socketId !== socketId ? previous.socketId : null;
    if (replacedSocket) this.idBySocket.delete(replacedSocket);
    const oldId = this.idBySocket.get(socketId);
    if (oldId && oldId !== id) this.detach(oldId);
    const entry: RegistryEntry = {
      id,
      socketId,
      backend: hello.backend,
      examples: hello.examples,
      heldOut: hello.heldOut,
      dataSource: hello.dataSource,
      scenario: hello.scenario ?? previous?.scenario ?? null,
      assignedIndex: hello.assignedIndex ?? (hello.dataSource === 'assigned' ? (previous?.assignedIndex ?? null) : null),
      state: 'waiting',
      lastSeen: now,
      lastRound: previous?.lastRound ?? null,
      lastLatencyMs: previous?.lastLatencyMs ?? null,
    };
    this.byId.set(id, entry);
    this.idBySocket.set(socketId, id);
    this.onChange();
    return { entry, replacedSocket };
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

  update(id: string, patch: Partial<Pick<RegistryEntry, 'state' | 'lastSeen' | 'lastRound' | 'lastLatencyMs' | 'examples' | 'heldOut' | 'scenario' | 'assignedIndex'>>): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    Object.assign(entry, patch);
    this.onChange();
  }

  connected(): RegistryEntry[] {
    return [...this.byId.values()].filter((e) => e.socketId !== null);
  }

  /** Assigned indices of a scenario held by connected participants other than `except`. */
  takenIndices(scenarioKey: string, except: string): Set<number> {
    const taken = new Set<number>();
    for (const e of this.connected()) {
      if (e.id !== except && e.assignedIndex !== null && e.scenario && scenarioKeyOf(e.scenario) === scenarioKey) taken.add(e.assignedIndex);
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
        dataSource: e.dataSource,
        scenario: e.scenario,
        assignedIndex: e.assignedIndex,
        state: e.state,
        lastSeen: e.lastSeen,
        lastRound: e.lastRound,
        lastLatencyMs: e.lastLatencyMs,
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

export function scenarioKeyOf(s: ScenarioSpec): string {
  return `${s.name}/${s.participants}/${s.seed}/${s.heldOut ?? ''}/${s.dirichletAlpha ?? ''}/${s.kShot ?? ''}`;
}
