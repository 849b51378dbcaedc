import { parseOrError, ScenarioSpecSchema, type ScenarioSpec } from '@tabula/core';
import { isBackendName, type BackendName, BACKENDS } from './backend-choice.js';

/** What the page's query string asks for. */
export interface UrlOptions {
  /** `?backend=webgpu|webgl|wasm|cpu`: honoured exactly; null = choose automatically. */
  readonly backend: BackendName | null;
  /** Where the tab trains: in its dedicated Worker (training-worker.ts; the default), or with `?runtime=page` on its main thread. */
  readonly runtime: 'page' | 'worker';
  /**
   * `?scenario=shards&participants=6&participant=2[&seed=1][&heldOut=1][&validation=2][&alpha=0.5][&kShot=5]
   * [&supportShots=10][&labelPermutations=4][&freshPoints=1]`: the scenario's own field names.
   */
  readonly shard: { readonly scenario: ScenarioSpec; readonly index: number } | null;
  /** Problems with the parameters, each readable as is; the page shows them and ignores the bad part. */
  readonly errors: readonly string[];
}

export function parseUrlOptions(search: string): UrlOptions {
  const params = new URLSearchParams(search);
  const errors: string[] = [];

  let backend: BackendName | null = null;
  const requested = params.get('backend');
  if (requested !== null && requested !== '' && requested !== 'auto') {
    if (isBackendName(requested)) backend = requested;
    else errors.push(`backend=${requested} is not one of ${BACKENDS.join(', ')}: choosing automatically`);
  }

  const runtimeAsked = params.get('runtime');
  let runtime: UrlOptions['runtime'] = 'worker';
  if (runtimeAsked === 'page') runtime = 'page';
  else if (runtimeAsked !== null && runtimeAsked !== '' && runtimeAsked !== 'worker')
    errors.push(`runtime=${runtimeAsked} is not page or worker: training in a Worker`);

  let shard: UrlOptions['shard'] = null;
  const name = params.get('scenario');
  if (name !== null) {
    const number = (key: string): number | undefined => {
      const raw = params.get(key);
      return raw === null || raw === '' ? undefined : Number(raw);
    };
    const parsed = parseOrError(ScenarioSpecSchema, {
      name,
      participants: number('participants'),
      seed: number('seed'),
      heldOut: number('heldOut'),
      dirichletAlpha: number('alpha'),
      kShot: number('kShot'),
      validation: number('validation'),
      supportShots: number('supportShots'),
      labelPermutations: number('labelPermutations'),
      freshPoints: params.has('freshPoints') ? ['1', 'true', ''].includes(params.get('freshPoints')!) : undefined,
    });
    const index = number('participant');
    if (!parsed.ok) errors.push(`scenario parameters: ${parsed.error}`);
    else if (index === undefined || !Number.isInteger(index) || index < 0 || index >= parsed.data.participants) {
      errors.push(`participant=${params.get('participant') ?? ''} must be an integer in 0..${parsed.data.participants - 1}`);
    } else {
      shard = { scenario: parsed.data, index };
    }
  }
  return { backend, runtime, shard, errors };
}
