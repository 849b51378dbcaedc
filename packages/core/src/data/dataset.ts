/**
 * A set of examples in one flat layout that TF.js, the codec and IndexedDB all handle without copies:
 * `x` holds `count` rows of `featureSize` floats; `y` holds one class index (classification) or one target
 * (regression) per example, as floats.
 */
export interface Examples {
  readonly count: number;
  readonly x: Float32Array;
  readonly y: Float32Array;
}

export type TaskKind = 'classification' | 'regression';

/** What every participant of a scenario shares: the shape of one example and of the model's output. */
export interface TaskShape {
  readonly kind: TaskKind;
  /** Shape of one example, e.g. [28, 28, 1] for MNIST or [1] for sinusoid. */
  readonly inputShape: readonly number[];
  /** Number of classes (classification) or output dimensions (regression). */
  readonly outputs: number;
}

/**
 * One participant's local data. `support` is what it adapts on (the k-shot set), `query` what meta-learning
 * evaluates the adapted weights on during training, `test` is held out for evaluation only and never trained on.
 */
export interface ParticipantData {
  readonly index: number;
  /** Held-out meta-test participant: adapts and is evaluated, never uploads an update. */
  readonly heldOut: boolean;
  /** Validation participant: never trains either, and is scored apart from the held-out ones (settings get tuned on it). */
  readonly validation: boolean;
  readonly support: Examples;
  readonly query: Examples;
  readonly test: Examples;
  /** Human-readable facts about this participant's slice, e.g. its labels, rotation angle or sine task. */
  readonly description: string;
  /**
   * Fresh data per round (sinusoid `freshPoints`): the support and query sets round `round` trains on, the same for
   * the same round. Absent: every round trains on `support` and `query`. Evaluation always uses `support` and `test`.
   */
  readonly trainingData?: (round: number) => TrainingData;
}

/** What one round of local training uses. */
export interface TrainingData {
  readonly support: Examples;
  readonly query: Examples;
}

export function featureSize(shape: TaskShape): number {
  return shape.inputShape.reduce((a, b) => a * b, 1);
}

/** Concatenates example sets (e.g. support + query for plain local training). */
export function concatExamples(parts: readonly Examples[], featureLength: number): Examples {
  const count = parts.reduce((n, p) => n + p.count, 0);
  const x = new Float32Array(count * featureLength);
  const y = new Float32Array(count);
  let offset = 0;
  for (const part of parts) {
    x.set(part.x.subarray(0, part.count * featureLength), offset * featureLength);
    y.set(part.y.subarray(0, part.count), offset);
    offset += part.count;
  }
  return { count, x, y };
}
