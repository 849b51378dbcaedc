import {
  adaptationCurve,
  AlgorithmSchema,
  headline,
  learnsRates,
  ModelSpecSchema,
  ClientHyperSchema,
  parameterCount,
  type Examples,
} from '@tabula/core';
import { errorMessage, h } from '../shared/dom.js';
import { formatMetric } from '../shared/format.js';

/** One per weight, float32 little-endian in the flat layout order (see core's model/layout.ts). */
async function fetchPerWeight(name: 'weights.bin' | 'rates.bin', spec: ReturnType<typeof ModelSpecSchema.parse>): Promise<Float32Array> {
  const response = await fetch(`/api/model/${name}`, { cache: 'no-store' });
  if (!response.ok) throw new Error(`${name}: the hub answered ${response.status}`);
  const values = new Float32Array(await response.arrayBuffer());
  if (values.length !== parameterCount(spec))
    throw new Error(`${name} holds ${values.length} values, the model needs ${parameterCount(spec)}`);
  return values;
}

/**
 * The current global model as the hub serves it: spec + hyper-parameters from /api/model/info, weights.bin raw, and
 * for Meta-SGD the learned rates it adapts with (rates.bin).
 */
async function fetchModel(): Promise<{
  spec: ReturnType<typeof ModelSpecSchema.parse>;
  hyper: ReturnType<typeof ClientHyperSchema.parse>;
  weights: Float32Array;
  rates: Float32Array | null;
  label: string;
}> {
  const infoResponse = await fetch('/api/model/info', { cache: 'no-store' });
  const info = (await infoResponse.json()) as {
    error?: string;
    runId?: string;
    modelVersion?: number;
    model?: unknown;
    algorithm?: unknown;
    client?: unknown;
  };
  if (!infoResponse.ok) throw new Error(info.error ?? `the hub answered ${infoResponse.status}`);
  const spec = ModelSpecSchema.parse(info.model);
  const hyper = ClientHyperSchema.parse(info.client);
  const algorithm = AlgorithmSchema.parse(info.algorithm);
  const weights = await fetchPerWeight('weights.bin', spec);
  const rates = learnsRates(algorithm) ? await fetchPerWeight('rates.bin', spec) : null;
  return { spec, hyper, weights, rates, label: `run ${info.runId} after round ${info.modelVersion}` };
}

/**
 * Meta-test on demand: a tab that joins after training (it never trained) adapts the latest global model on its
 * own support set and shows its accuracy before and after — the personalization payoff, measured locally.
 */
export class MetaTest {
  readonly element: HTMLElement;
  private readonly button = h('button', { type: 'button', text: 'Adapt the latest model' });
  private readonly result = h('p', { 'data-testid': 'meta-test-result', 'aria-live': 'polite', className: 'muted', text: 'Not run yet.' });

  /** `data` returns this tab's support and test sets (null without data). */
  constructor(private readonly data: () => { support: Examples; test: Examples } | null) {
    this.button.addEventListener('click', () => void this.run());
    this.element = h(
      'div',
      {},
      h('p', {
        className: 'muted',
        text: 'Download the current global model, adapt it a few steps on this tab’s support set, and score it on this tab’s test set. Nothing is uploaded.',
      }),
      this.button,
      this.result,
    );
  }

  async run(): Promise<void> {
    const data = this.data();
    if (!data) {
      this.result.textContent = 'This tab has no local data yet.';
      return;
    }
    this.button.disabled = true;
    this.result.textContent = 'Downloading the model…';
    try {
      const model = await fetchModel();
      const steps = Math.max(1, model.hyper.adaptSteps);
      this.result.textContent = `Adapting ${steps} steps…`;
      const curve = await adaptationCurve(model.spec, model.weights, data.support, data.test, {
        steps: [0, steps],
        lr: model.hyper.innerLr,
        rates: model.rates,
      });
      const before = headline(curve.scores[0]!);
      const after = headline(curve.scores[curve.scores.length - 1]!);
      const metric = model.spec.task === 'regression' ? 'mse' : 'accuracy';
      this.result.dataset.before = String(before);
      this.result.dataset.after = String(after);
      this.result.textContent = `${model.label}: ${metric} ${formatMetric(before, metric)} before, ${formatMetric(after, metric)} after ${steps} adaptation steps on ${data.support.count} local examples.`;
    } catch (error) {
      this.result.textContent = `Meta-test failed: ${errorMessage(error)}`;
    } finally {
      this.button.disabled = false;
    }
  }
}
