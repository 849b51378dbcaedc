import { isHeldOut, type Assignment, type Hello, type RunConfig, type ScenarioSpec } from '@tabula/core';
import { scenarioKeyOf, type Registry, type RegistryEntry } from './registry.js';

/** Where an offer of a new shard goes: the participant's connection. */
export type OfferTo = (participantId: string, assignment: Assignment) => void;

/**
 * Which simulated data each participant holds. A participant that asks for a shard ('assigned' data) gets the one it
 * names, else its previous one, else the lowest free one of the running run's scenario (or the hub's default); when a
 * run on another scenario starts, participants with hub-assigned shards are offered one of its.
 */
export class ShardAssigner {
  constructor(
    private readonly registry: Registry,
    private readonly defaultScenario: ScenarioSpec,
    private readonly offerTo: OfferTo,
  ) {}

  /**
   * The shard for a hello (null for a participant with its own data) and whether it is held out, or why there is
   * none. `previous` is the participant the hello resumes, if any.
   */
  assign(
    hello: Hello,
    previous: RegistryEntry | null,
    running: ScenarioSpec | undefined,
  ): { ok: true; assignment: Assignment | null; heldOut: boolean } | { ok: false; error: string } {
    if (hello.dataSource !== 'assigned') return { ok: true, assignment: null, heldOut: hello.heldOut };
    const scenario = hello.scenario ?? running ?? previous?.scenario ?? this.defaultScenario;
    let index = hello.assignedIndex ?? null;
    if (index === null && previous?.scenario && scenarioKeyOf(previous.scenario) === scenarioKeyOf(scenario))
      index = previous.assignedIndex;
    if (index === null) {
      index = this.freeIndex(scenario, previous?.id ?? '');
      if (index === null) return { ok: false, error: `all ${scenario.participants} participants of scenario ${scenario.name} are taken` };
    }
    if (index >= scenario.participants)
      return { ok: false, error: `participant ${index} does not exist in a ${scenario.participants}-participant scenario` };
    return { ok: true, assignment: { scenario, index }, heldOut: isHeldOut(scenario, index) };
  }

  /**
   * Who may take part in a run: a scenario run only participants that hold a shard of exactly that scenario (so a
   * simulation never mixes in other data); a run without a scenario any participant whose data fits the model's task.
   */
  compatible(entry: RegistryEntry, config: RunConfig): boolean {
    if (config.scenario)
      return entry.dataSource === 'assigned' && entry.scenario !== null && scenarioKeyOf(entry.scenario) === scenarioKeyOf(config.scenario);
    const holdsSines = entry.dataSource === 'assigned' && entry.scenario?.name === 'sinusoid';
    return holdsSines === (config.model.task === 'regression');
  }

  /**
   * Offers each of `entries` that holds a hub-assigned shard of another scenario a free shard of this one (one whose
   * address pins its shard declines). Stops when the scenario has no free shard left.
   */
  offer(entries: readonly RegistryEntry[], scenario: ScenarioSpec): void {
    const key = scenarioKeyOf(scenario);
    const offered = new Set<number>();
    for (const entry of entries) {
      if (entry.dataSource !== 'assigned' || (entry.scenario && scenarioKeyOf(entry.scenario) === key)) continue;
      const index = this.freeIndex(scenario, entry.id, offered);
      if (index === null) return;
      offered.add(index);
      this.offerTo(entry.id, { scenario, index });
    }
  }

  /** The lowest shard of `scenario` no connected participant but `except` holds (nor is `offered`), or null when all are. */
  private freeIndex(scenario: ScenarioSpec, except: string, offered: ReadonlySet<number> = new Set()): number | null {
    const taken = this.registry.takenIndices(scenarioKeyOf(scenario), except);
    let index = 0;
    while (taken.has(index) || offered.has(index)) index++;
    return index < scenario.participants ? index : null;
  }
}
