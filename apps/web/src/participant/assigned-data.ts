import { createScenario, parseMnistAsset, scenarioNeedsMnist, type MnistData, type ParticipantData, type ScenarioSpec } from '@tabula/core';

let mnist: Promise<MnistData> | null = null;

/** The hub's MNIST asset, fetched once per page. */
export function loadMnist(url = '/data/mnist.bin'): Promise<MnistData> {
  mnist ??= (async () => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status} ${response.statusText}`);
    return parseMnistAsset(await response.arrayBuffer());
  })();
  mnist.catch(() => (mnist = null)); // a failed download may be retried later
  return mnist;
}

/** One participant's simulation shard, built here from the seeded scenario: the same data the hub expects. */
export async function loadShard(scenario: ScenarioSpec, index: number): Promise<ParticipantData> {
  const data = scenarioNeedsMnist(scenario.name) ? await loadMnist() : undefined;
  return createScenario(scenario, data).participant(index);
}
