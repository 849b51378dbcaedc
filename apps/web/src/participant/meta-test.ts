import {
  adaptationCurve,
  AlgorithmSchema,
  headline,
  startingHead,
  keepsHead,
  learnsRates,
  ModelSpecSchema,
  ClientHyperSchema,
  parameterCount,
  type Algorithm,
  withHead,
  type Examples,
} from '@tabula/core';
import { errorMessage, h } from '../shared/dom.js';
import { formatMetric } from '../shared/format.js';
import { headSourceText, newHeadSource, type HeadSource } from './head-view.js';

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
 * for Meta-SGD the learned rates it adapts with (rates.bin). Under a personal head weights.bin is the global body
 * with a fresh head.
 */
async function fetchModel(): Promise<{
  spec: ReturnType<typeof ModelSpecSchema.parse>;
  hyper: ReturnType<typeof ClientHyperSchema.parse>;
  algorithm: Algorithm;
  runId: string;
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
  const runId = String(info.runId);
  return { spec, hyper, algorithm, runId, weights, rates, label: `run ${runId} after round ${info.modelVersion}` };
}

/**
 * Meta-test on demand: a tab that joins after training (it never trained) adapts the latest global model on its
 * own support set and shows its accuracy before and after — the personalization payoff, measured locally. Under a
 * personal head (fedrep, fedper) only the head adapts, as in the rounds: this tab's own head for the run if it kept
 * one, else (a classifier) one imprinted from its support set on the downloaded body, as a participant's first round
 * starts, or (regression) the fresh head weights.bin comes with.
 */
export class MetaTest {
  readonly element: HTMLElement;
  private readonly button = h('button', { type: 'button', text: 'Adapt the latest model' });
  private readonly result = h('p', { 'data-testid': 'meta-test-result', 'aria-live': 'polite', className: 'muted', text: 'Not run yet.' });

  /** `data` returns this tab's support and test sets (null without data); `heads` finds this tab's head for a run. */
  constructor(
    private readonly data: () => { support: Examples; test: Examples } | null,
    private readonly heads: { find(runId: string): Promise<Float32Array | null> },
  ) {
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
      const { weights, adaptFrom, source } = await this.withHead(model, data.support);
      this.result.textContent = `Adapting ${steps} steps…`;
      const curve = await adaptationCurve(model.spec, weights, data.support, data.test, {
        steps: [0, steps],
        lr: model.hyper.innerLr,
        rates: model.rates,
        adaptFrom,
      });
      const before = headline(curve.scores[0]!);
      const after = headline(curve.scores[curve.scores.length - 1]!);
      const metric = model.spec.task === 'regression' ? 'mse' : 'accuracy';
      this.result.dataset.before = String(before);
      this.result.dataset.after = String(after);
      const head = source === null ? '' : ` Only the head adapted, starting from ${headSourceText(source, model.runId)}.`;
      if (source === null) delete this.result.dataset.head;
      else this.result.dataset.head = source;
      this.result.textContent = `${model.label}: ${metric} ${formatMetric(before, metric)} before, ${formatMetric(after, metric)} after ${steps} adaptation steps on ${data.support.count} local examples.${head}`;
    } catch (error) {
      this.result.textContent = `Meta-test failed: ${errorMessage(error)}`;
    } finally {
      this.button.disabled = false;
    }
  }

  /** The weights to adapt, where adaptation starts, and which head they hold (null: the model keeps no head). */
  private async withHead(
    model: Awaited<ReturnType<typeof fetchModel>>,
    support: Examples,
  ): Promise<{ weights: Float32Array; adaptFrom: number; source: HeadSource | null }> {
    if (!keepsHead(model.algorithm)) return { weights: model.weights, adaptFrom: 0, source: null };
    const { head, own } = await startingHead(model.spec, model.weights, await this.heads.find(model.runId), support);
    const { weights, adaptFrom } = withHead(model.spec, model.weights, head);
    return { weights, adaptFrom, source: own ? 'own' : newHeadSource(model.spec.task) };
  }
}
