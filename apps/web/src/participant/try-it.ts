import {
  disposeAll,
  forward,
  readTensors,
  sgdStep,
  tf,
  toBatch,
  toTensors,
  weightLayout,
  type ClientHyper,
  type Examples,
  type ModelSpec,
} from '@tabula/core';
import { errorMessage, h, replaceChildren } from '../shared/dom.js';
import { DrawPad } from './draw-pad.js';

/** The global model of the latest round, kept in memory for "Try it". */
export interface ModelSnapshot {
  readonly key: string;
  readonly spec: ModelSpec;
  readonly hyper: ClientHyper;
  readonly weights: Float32Array;
  /** The first flat index personalization trains (core's localModel): a personal head's start, else 0. */
  readonly adaptFrom: number;
}

export interface Prediction {
  readonly digit: number;
  readonly probability: number;
}

/** Softmax probabilities of the model for one 28x28 image (pixels 0..255). */
export async function predict(spec: ModelSpec, weights: Float32Array, pixels: Uint8Array): Promise<Prediction> {
  const params = toTensors(spec, weights);
  try {
    const probs = tf.tidy(() => {
      const x = tf.tensor(
        Float32Array.from(pixels, (v) => v / 255),
        [1, ...spec.inputShape],
      );
      return tf.softmax(forward(spec, params, x));
    });
    // Read without blocking: WebGPU on a software adapter cannot read synchronously (core's readTensors).
    const values = await probs.data();
    probs.dispose();
    let digit = 0;
    values.forEach((p, i) => (p > (values[digit] ?? 0) ? (digit = i) : undefined));
    return { digit, probability: values[digit] ?? 0 };
  } finally {
    disposeAll(params);
  }
}

/**
 * The global weights after `adaptSteps` full-batch SGD steps on the local support set, as evaluation does: under a
 * personal head (adaptFrom > 0) only the head's tensors step.
 */
export async function personalize(snapshot: ModelSnapshot, support: Examples): Promise<Float32Array> {
  let params = toTensors(snapshot.spec, snapshot.weights);
  const [x, y] = toBatch(snapshot.spec, support);
  const layout = weightLayout(snapshot.spec);
  const only = {
    from: Math.max(
      0,
      layout.findIndex((slot) => slot.offset === snapshot.adaptFrom),
    ),
    to: layout.length,
  };
  try {
    for (let s = 0; s < snapshot.hyper.adaptSteps; s++) {
      const next = sgdStep(snapshot.spec, params, x, y, snapshot.hyper.innerLr, only);
      next.loss.dispose();
      disposeAll(params);
      params = next.params;
    }
    return await readTensors(params);
  } finally {
    disposeAll(params);
    tf.dispose([x, y]);
  }
}

/** "Try it": draw a digit, see the global and the personalized prediction side by side. */
export class TryIt {
  readonly element: HTMLElement;
  private snapshot: ModelSnapshot | null = null;
  private personalized: { key: string; weights: Float32Array } | null = null;
  private readonly pad = new DrawPad('Drawing pad for trying the model', 168);
  private readonly result = h('div', { className: 'try-result', 'aria-live': 'polite', 'data-testid': 'try-result' });

  /** `support` returns this tab's current adaptation data (or null without data). */
  constructor(private readonly support: () => Examples | null) {
    const run = h('button', { type: 'button', text: 'Predict' });
    run.addEventListener('click', () => void this.predictDrawing());
    const clear = h('button', { type: 'button', text: 'Clear' });
    clear.addEventListener('click', () => {
      this.pad.clear();
      replaceChildren(this.result);
    });
    this.pad.onStroke = () => void this.predictDrawing();
    this.element = h(
      'div',
      { className: 'try-it' },
      this.pad.canvas,
      h('div', {}, h('div', { className: 'buttons' }, run, clear), this.result),
    );
    this.say('Takes part in a round first: the latest global model is kept in memory.');
  }

  setModel(snapshot: ModelSnapshot): void {
    this.snapshot = snapshot;
    this.personalized = null;
  }

  /** The local data changed: the personalized weights must be recomputed. */
  invalidate(): void {
    this.personalized = null;
  }

  private async predictDrawing(): Promise<void> {
    const snapshot = this.snapshot;
    if (!snapshot) return this.say('No model yet: wait until this tab has taken part in a round.');
    if (snapshot.spec.task !== 'classification' || snapshot.spec.inputShape.reduce((a, b) => a * b, 1) !== 784) {
      return this.say('Try it needs an MNIST classification run (this run is not one).');
    }
    const pixels = this.pad.toMnist();
    if (!pixels) return this.say('Draw a digit first.');
    try {
      const global = await predict(snapshot.spec, snapshot.weights, pixels);
      const support = this.support();
      let personal: Prediction | null = null;
      if (support && support.count > 0) {
        if (this.personalized?.key !== snapshot.key)
          this.personalized = { key: snapshot.key, weights: await personalize(snapshot, support) };
        personal = await predict(snapshot.spec, this.personalized.weights, pixels);
      }
      replaceChildren(
        this.result,
        card('Global model', global),
        personal
          ? card(`Personalized (${snapshot.hyper.adaptSteps} steps on your data)`, personal)
          : h('p', { className: 'muted', text: 'No local support data to personalize with.' }),
      );
    } catch (error) {
      this.say(`prediction failed: ${errorMessage(error)}`);
    }
  }

  private say(text: string): void {
    replaceChildren(this.result, h('p', { className: 'muted', text }));
  }
}

function card(title: string, p: Prediction): HTMLElement {
  return h(
    'div',
    { className: 'prediction' },
    h('div', { className: 'muted', text: title }),
    h('div', { className: 'digit', text: p.digit }),
    h('div', { text: `${(p.probability * 100).toFixed(0)}% sure` }),
  );
}
