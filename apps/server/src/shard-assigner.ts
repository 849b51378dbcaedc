import { isHeldOut, scenarioKey, validationIndices, type Assignment, type Hello, type RunConfig, type ScenarioSpec } from '@tabula/core';
import type { Registry, RegistryEntry } from './registry.js';

/** Scenarios whose validation participants are remembered: a run's own, plus the shards of scenario-less runs. */
const VALIDATION_CACHE_SIZE = 16;

/** Where an offer of a new shard goes: the participant's connection. */
export type OfferTo = (participantId: string, assignment: Assignment) => void;

/**
 * Which simulated data each participant holds. A participant that asks for a shard ('assigned' data) gets the one it
 * names, else its previous one, else the lowest free one of the running run's scenario (or the hub's default); when a
 * run on another scenario starts, participants with hub-assigned shards are offered one of its.
 */
export class ShardAssigner {
  private readonly validation = new Map<string, ReadonlySet<number>>();

  constructor(
    private readonly registry: Registry,
    private readonly defaultScenario: ScenarioSpec,
    private readonly offerTo: OfferTo,
    /**
     * Several hubs: the shards other hubs' tabs hold (as they last listed them), so that a hub hands out none of
     * them. Best effort: two hubs answering hellos within one list refresh of each other may still pick the same one.
     */
    private readonly heldElsewhere: () => Iterable<Pick<RegistryEntry, 'id' | 'scenario' | 'assignedIndex'>> = () => [],
  ) {}

  /**
   * The shard for a hello (null for a participant with its own data) and whether it is held out or a validation
   * shard (one a tab can only ask for by URL), or why there is none. `previous` is the participant the hello resumes, if any.
   */
  assign(
    hello: Hello,
    previous: RegistryEntry | null,
    running: ScenarioSpec | undefined,
  ): { ok: true; assignment: Assignment | null; heldOut: boolean; validation: boolean } | { ok: false; error: string } {
    if (hello.dataSource !== 'assigned') return { ok: true, assignment: null, heldOut: hello.heldOut, validation: false };
    const scenario = hello.scenario ?? running ?? previous?.scenario ?? this.defaultScenario;
    let index = hello.assignedIndex ?? null;
    if (index === null && previous?.scenario && scenarioKey(previous.scenario) === scenarioKey(scenario)) index = previous.assignedIndex;
    if (index === null) {
      index = this.freeIndex(scenario, previous?.id ?? '');
      if (index === null) return { ok: false, error: `all ${scenario.participants} participants of scenario ${scenario.name} are taken` };
    }
    if (index >= scenario.participants)
      return { ok: false, error: `participant ${index} does not exist in a ${scenario.participants}-participant scenario` };
    return {
      ok: true,
      assignment: { scenario, index },
      heldOut: isHeldOut(scenario, index),
      validation: this.validationOf(scenario).has(index),
    };
  }

  /**
   * Who may take part in a run: a scenario run only participants that hold a shard of exactly that scenario (so a
   * simulation never mixes in other data); a run without a scenario any participant whose data fits the model's task.
   * Never a validation participant: it neither trains nor joins the held-out meta-test.
   */
  compatible(entry: Pick<RegistryEntry, 'scenario' | 'assignedIndex' | 'dataSource'>, config: RunConfig): boolean {
    if (entry.scenario && entry.assignedIndex !== null && this.validationOf(entry.scenario).has(entry.assignedIndex)) return false;
    if (config.scenario)
      return entry.dataSource === 'assigned' && entry.scenario !== null && scenarioKey(entry.scenario) === scenarioKey(config.scenario);
    const holdsSines = entry.dataSource === 'assigned' && entry.scenario?.name === 'sinusoid';
    return holdsSines === (config.model.task === 'regression');
  }

  /**
   * Offers each of `entries` that holds a hub-assigned shard of another scenario a free shard of this one (one whose
   * address pins its shard declines). Stops when the scenario has no free shard left.
   */
  offer(entries: readonly RegistryEntry[], scenario: ScenarioSpec): void {
    const key = scenarioKey(scenario);
    const offered = new Set<number>();
    for (const entry of entries) {
      if (entry.dataSource !== 'assigned' || (entry.scenario && scenarioKey(entry.scenario) === key)) continue;
      const index = this.freeIndex(scenario, entry.id, offered);
      if (index === null) return;
      offered.add(index);
      this.offerTo(entry.id, { scenario, index });
    }
  }

  /** Computed once per scenario, as the registry asks about every candidate every round. */
  private validationOf(scenario: ScenarioSpec): ReadonlySet<number> {
    const key = scenarioKey(scenario);
    let indices = this.validation.get(key);
    if (!indices) {
      if (this.validation.size >= VALIDATION_CACHE_SIZE) this.validation.clear();
      indices = new Set(scenario.validation ? validationIndices(scenario) : []);
      this.validation.set(key, indices);
    }
    return indices;
  }

  /**
   * The lowest shard of `scenario` that is no validation shard and that no connected participant but `except` holds
   * (nor is `offered`), or null when none is left.
   */
  private freeIndex(scenario: ScenarioSpec, except: string, offered: ReadonlySet<number> = new Set()): number | null {
    const key = scenarioKey(scenario);
    const taken = this.registry.takenIndices(key, except);
    for (const tab of this.heldElsewhere())
      if (tab.id !== except && tab.assignedIndex !== null && tab.scenario && scenarioKey(tab.scenario) === key)
        taken.add(tab.assignedIndex);
    // A validation shard is never handed out unasked: its holder would never take part.
    const validation = this.validationOf(scenario);
    let index = 0;
    while (taken.has(index) || offered.has(index) || validation.has(index)) index++;
    return index < scenario.participants ? index : null;
  }
}
