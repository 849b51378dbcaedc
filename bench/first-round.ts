/**
 * The first-round updates of a run's trainers, from its initial model, on the fast engine: what a benchmark scales a
 * clip to (bench/privacy.ts) or measures the ring's rounding on (bench/secagg.ts). A helper, not a benchmark.
 */
import { createScenario } from '../packages/core/src/data/scenario.js';
import type { MnistData } from '../packages/core/src/data/mnist.js';
import { clientUpdateFor } from '../packages/core/src/learn/fast/engine.js';
import type { ClientUpdateResult } from '../packages/core/src/learn/client-update.js';
import { initialFederated } from '../packages/core/src/learn/initial-federated.js';
import type { RunConfig } from '../packages/core/src/protocol.js';

/** The updates of the scenario's first `count` trainers (held-out participants skipped), each seeded by its index. */
export async function firstRoundUpdates(config: RunConfig, mnist: MnistData | undefined, count: number): Promise<ClientUpdateResult[]> {
  if (!config.scenario) throw new Error('firstRoundUpdates: the config names no scenario');
  const scenario = createScenario(config.scenario, mnist);
  const global = initialFederated(config.model, config.algorithm, config.seed, config.client.innerLr);
  const update = clientUpdateFor('fast');
  const heldOut = new Set(scenario.heldOut);
  const updates: ClientUpdateResult[] = [];
  for (let i = 0; updates.length < count; i++) {
    if (heldOut.has(i)) continue;
    const data = scenario.participant(i);
    updates.push(
      await update({
        spec: config.model,
        algorithm: config.algorithm,
        hyper: config.client,
        global,
        support: data.support,
        query: data.query,
        seed: i,
      }),
    );
  }
  return updates;
}
