import type { Examples } from '../../data/dataset.js';
import { weightLayout } from '../../model/layout.js';
import type { MlpSpec } from '../../model/spec.js';

/** A minibatch in float64: `x` is n rows of the input width, `y` n rows of the output width (one-hot for classes). */
export interface DenseBatch {
  readonly n: number;
  readonly x: Float64Array;
  readonly y: Float64Array;
}

/**
 * The spec's ReLU MLP as plain loops over one flat float64 weight vector in layout order (kernels [in, out]
 * row-major, then biases), with the same losses as learn/loss.ts: mean squared error over every output, or the
 * mean softmax cross-entropy. For the 1-40-40-1 sinusoid net TF.js spends >= 92 % of an update dispatching
 * kernels (design/learning.md §6); these loops have no per-op cost, and float64 keeps them within float32
 * rounding of TF.js. `hessianVectorProduct` is Pearlmutter's R-op (forward-over-reverse), which second-order
 * MAML needs; ReLU's second derivative is zero, as in TF.js's tape.
 */
export class DenseMlp {
  /** Layer widths, input first. */
  readonly widths: readonly number[];
  readonly parameterCount: number;
  private readonly kernelAt: readonly number[];
  private readonly biasAt: readonly number[];
  private readonly classification: boolean;
  private capacity = 0;
  // Per layer l (0 = input): pre-activations z, activations h, their gradients dz, and the R-op's Rz, Rh, Rdz.
  private z: Float64Array[] = [];
  private h: Float64Array[] = [];
  private dz: Float64Array[] = [];
  private rz: Float64Array[] = [];
  private rh: Float64Array[] = [];
  private rdz: Float64Array[] = [];

  constructor(readonly spec: MlpSpec) {
    this.widths = [spec.inputShape.reduce((a, b) => a * b, 1), ...spec.hidden, spec.outputs];
    const layout = weightLayout(spec);
    this.kernelAt = layout.filter((_, i) => i % 2 === 0).map((s) => s.offset);
    this.biasAt = layout.filter((_, i) => i % 2 === 1).map((s) => s.offset);
    const last = layout[layout.length - 1]!;
    this.parameterCount = last.offset + last.size;
    this.classification = spec.task === 'classification';
  }

  /** Rows `indices` of `examples`, as learn/batch.ts's toBatch lays them out (and refusing the labels it refuses). */
  batch(examples: Examples, indices: readonly number[]): DenseBatch {
    const f = this.widths[0]!;
    const outputs = this.spec.outputs;
    const n = indices.length;
    const x = new Float64Array(n * f);
    const y = new Float64Array(n * outputs);
    indices.forEach((row, i) => {
      for (let k = 0; k < f; k++) x[i * f + k] = examples.x[row * f + k]!;
      const target = examples.y[row] ?? 0;
      if (this.classification) {
        if (!Number.isInteger(target) || target < 0 || target >= outputs) {
          throw new Error(`label ${target} is not a class of this ${outputs}-class model`);
        }
        y[i * outputs + target] = 1;
      } else {
        y[i * outputs] = target;
      }
    });
    return { n, x, y };
  }

  /** The batch loss at `w`; writes its gradient into `grad`. */
  lossAndGradient(w: Float64Array, batch: DenseBatch, grad: Float64Array): number {
    this.ensure(batch.n);
    const loss = this.forward(w, batch);
    this.backward(w, batch, grad, null, null);
    return loss;
  }

  /** The batch loss at `w`, without gradients. */
  loss(w: Float64Array, batch: DenseBatch): number {
    this.ensure(batch.n);
    return this.forward(w, batch);
  }

  /** H(w)·v of the batch loss into `out`; returns the loss. */
  hessianVectorProduct(w: Float64Array, batch: DenseBatch, v: Float64Array, out: Float64Array): number {
    this.ensure(batch.n);
    const loss = this.forward(w, batch);
    this.forwardR(w, v, batch.n);
    this.backward(w, batch, null, v, out);
    return loss;
  }

  /** The batch's mean loss, correct predictions (first maximum, as tf.argMax) and summed squared error at `w`. */
  score(w: Float64Array, batch: DenseBatch): { loss: number; correct: number; squaredError: number } {
    this.ensure(batch.n);
    const loss = this.forward(w, batch);
    const outputs = this.spec.outputs;
    const out = this.z[this.widths.length - 1]!;
    const y = batch.y;
    let correct = 0;
    let squaredError = 0;
    for (let r = 0; r < batch.n; r++) {
      let predicted = 0;
      let label = 0;
      for (let j = 0; j < outputs; j++) {
        const i = r * outputs + j;
        squaredError += (out[i]! - y[i]!) ** 2;
        if (out[i]! > out[r * outputs + predicted]!) predicted = j;
        if (y[i]! > y[r * outputs + label]!) label = j;
      }
      if (predicted === label) correct++;
    }
    return { loss, correct, squaredError };
  }

  /**
   * H(w)·v into `out` at the w and batch of this model's latest lossAndGradient call, reusing that call's forward
   * and backward passes (a quarter of the product's work): the last inner step of MAML's backward pass.
   */
  hessianVectorProductAfterGradient(w: Float64Array, batch: DenseBatch, v: Float64Array, out: Float64Array): void {
    this.forwardR(w, v, batch.n);
    this.backward(w, batch, null, v, out, false);
  }

  private ensure(n: number): void {
    if (n <= this.capacity) return;
    this.capacity = n;
    const make = () => this.widths.map((width) => new Float64Array(n * width));
    this.z = make();
    this.h = make();
    this.dz = make();
    this.rz = make();
    this.rh = make();
    this.rdz = make();
  }

  /** Fills z, h (h[0] = x) and the output layer's dz = dLoss/dz; returns the mean loss. */
  private forward(w: Float64Array, batch: DenseBatch): number {
    const { n } = batch;
    const layers = this.widths.length - 1;
    this.h[0]!.set(batch.x);
    for (let l = 1; l <= layers; l++) {
      const input = this.widths[l - 1]!;
      const width = this.widths[l]!;
      affine(this.h[l - 1]!, w, this.kernelAt[l - 1]!, this.biasAt[l - 1]!, n, input, width, this.z[l]!);
      const z = this.z[l]!;
      const h = this.h[l]!;
      if (l < layers) for (let i = 0; i < n * width; i++) h[i] = z[i]! > 0 ? z[i]! : 0;
    }
    const outputs = this.widths[layers]!;
    const out = this.z[layers]!;
    const dz = this.dz[layers]!;
    const y = batch.y;
    let loss = 0;
    if (!this.classification) {
      const scale = 2 / (n * outputs);
      for (let i = 0; i < n * outputs; i++) {
        const e = out[i]! - y[i]!;
        loss += e * e;
        dz[i] = scale * e;
      }
      return loss / (n * outputs);
    }
    // Softmax cross-entropy of one-hot rows: dLoss/dz = (softmax(z) − y) / n. The softmax is kept in the output
    // layer's Rdz slot, which forwardR() reads and then overwrites.
    const p = this.rdz[layers]!;
    for (let r = 0; r < n; r++) {
      const base = r * outputs;
      let max = -Infinity;
      for (let j = 0; j < outputs; j++) max = Math.max(max, out[base + j]!);
      let sum = 0;
      for (let j = 0; j < outputs; j++) sum += Math.exp(out[base + j]! - max);
      const logSumExp = max + Math.log(sum);
      for (let j = 0; j < outputs; j++) {
        const i = base + j;
        loss += y[i]! * (logSumExp - out[i]!);
        const softmax = Math.exp(out[i]! - logSumExp);
        p[i] = softmax;
        dz[i] = (softmax - y[i]!) / n;
      }
    }
    return loss / n;
  }

  /** The R-op's forward pass along direction v: Rz, Rh per layer and Rdz at the output. */
  private forwardR(w: Float64Array, v: Float64Array, n: number): void {
    const layers = this.widths.length - 1;
    for (let l = 1; l <= layers; l++) {
      const input = this.widths[l - 1]!;
      const width = this.widths[l]!;
      const rz = this.rz[l]!;
      // Rz = h·vW + vb (+ Rh·W below the first layer, where Rh is not zero).
      affine(this.h[l - 1]!, v, this.kernelAt[l - 1]!, this.biasAt[l - 1]!, n, input, width, rz);
      if (l > 1) accumulateProduct(this.rh[l - 1]!, w, this.kernelAt[l - 1]!, n, input, width, rz);
      if (l < layers) {
        const z = this.z[l]!;
        const rh = this.rh[l]!;
        for (let i = 0; i < n * width; i++) rh[i] = z[i]! > 0 ? rz[i]! : 0;
      }
    }
    const outputs = this.widths[layers]!;
    const rz = this.rz[layers]!;
    const rdz = this.rdz[layers]!;
    if (!this.classification) {
      const scale = 2 / (n * outputs);
      for (let i = 0; i < n * outputs; i++) rdz[i] = scale * rz[i]!;
      return;
    }
    // R(dz) = (p ⊙ Rz − p (p·Rz)) / n, with p = softmax(z) left in rdz by forward().
    for (let r = 0; r < n; r++) {
      const base = r * outputs;
      let dot = 0;
      for (let j = 0; j < outputs; j++) dot += rdz[base + j]! * rz[base + j]!;
      for (let j = 0; j < outputs; j++) rdz[base + j] = (rdz[base + j]! * (rz[base + j]! - dot)) / n;
    }
  }

  /**
   * Backpropagates the output layer's dz into `grad` (if wanted); with a direction `v`, the R-op's Rdz into `hv`.
   * Needs forward() (and forwardR() for hv) at the same w and batch; `chain` false reuses the hidden layers' dz of
   * a backward pass already made there.
   */
  private backward(
    w: Float64Array,
    batch: DenseBatch,
    grad: Float64Array | null,
    v: Float64Array | null,
    hv: Float64Array | null,
    chain = true,
  ): void {
    const { n } = batch;
    const layers = this.widths.length - 1;
    grad?.fill(0);
    hv?.fill(0);
    for (let l = layers; l >= 1; l--) {
      const input = this.widths[l - 1]!;
      const width = this.widths[l]!;
      const kernel = this.kernelAt[l - 1]!;
      const bias = this.biasAt[l - 1]!;
      const dz = this.dz[l]!;
      const h = this.h[l - 1]!;
      if (grad) outerProduct(h, dz, n, input, width, grad, kernel, bias);
      if (hv && v) {
        const rdz = this.rdz[l]!;
        // R(dW) = Rh^T dz + h^T Rdz; R(db) = Σ Rdz.
        outerProduct(h, rdz, n, input, width, hv, kernel, bias);
        if (l > 1) outerProduct(this.rh[l - 1]!, dz, n, input, width, hv, kernel, -1);
      }
      if (l === 1) break;
      const below = this.dz[l - 1]!;
      const z = this.z[l - 1]!;
      if (chain) backProduct(dz, w, kernel, n, input, width, below);
      if (hv && v) {
        // R(dh) = Rdz W^T + dz vW^T; R(dz) below = R(dh) ⊙ relu'(z).
        const rbelow = this.rdz[l - 1]!;
        backProduct(this.rdz[l]!, w, kernel, n, input, width, rbelow);
        backProductAdd(dz, v, kernel, n, input, width, rbelow);
        for (let i = 0; i < n * input; i++) if (!(z[i]! > 0)) rbelow[i] = 0;
      }
      if (chain) for (let i = 0; i < n * input; i++) if (!(z[i]! > 0)) below[i] = 0;
    }
  }
}

/** out[n, width] = h[n, input] · W + b, with W and b read from `w` at their offsets. */
function affine(
  h: Float64Array,
  w: Float64Array,
  kernel: number,
  bias: number,
  n: number,
  input: number,
  width: number,
  out: Float64Array,
): void {
  for (let r = 0; r < n; r++) {
    const o = r * width;
    for (let j = 0; j < width; j++) out[o + j] = w[bias + j]!;
  }
  accumulateProduct(h, w, kernel, n, input, width, out);
}

/**
 * out[n, width] += h[n, input] · W, four inputs at a time (one load and store of `out` per four multiply-adds).
 * Skips zero inputs: ReLU outputs and MNIST's blank pixels are mostly zero.
 */
function accumulateProduct(
  h: Float64Array,
  w: Float64Array,
  kernel: number,
  n: number,
  input: number,
  width: number,
  out: Float64Array,
): void {
  for (let r = 0; r < n; r++) {
    const o = r * width;
    const row = r * input;
    let i = 0;
    for (; i + 3 < input; i += 4) {
      const a0 = h[row + i]!;
      const a1 = h[row + i + 1]!;
      const a2 = h[row + i + 2]!;
      const a3 = h[row + i + 3]!;
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const k0 = kernel + i * width;
      const k1 = k0 + width;
      const k2 = k1 + width;
      const k3 = k2 + width;
      for (let j = 0; j < width; j++) out[o + j]! += a0 * w[k0 + j]! + a1 * w[k1 + j]! + a2 * w[k2 + j]! + a3 * w[k3 + j]!;
    }
    for (; i < input; i++) {
      const a = h[row + i]!;
      if (a === 0) continue;
      const k = kernel + i * width;
      for (let j = 0; j < width; j++) out[o + j]! += a * w[k + j]!;
    }
  }
}

/** grad's kernel += h^T · d, four rows at a time, and its bias += Σ_rows d (bias < 0: no bias term). */
function outerProduct(
  h: Float64Array,
  d: Float64Array,
  n: number,
  input: number,
  width: number,
  grad: Float64Array,
  kernel: number,
  bias: number,
): void {
  let r = 0;
  for (; r + 3 < n; r += 4) {
    const o0 = r * width;
    const o1 = o0 + width;
    const o2 = o1 + width;
    const o3 = o2 + width;
    const r0 = r * input;
    for (let i = 0; i < input; i++) {
      const a0 = h[r0 + i]!;
      const a1 = h[r0 + input + i]!;
      const a2 = h[r0 + 2 * input + i]!;
      const a3 = h[r0 + 3 * input + i]!;
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
      const k = kernel + i * width;
      for (let j = 0; j < width; j++) grad[k + j]! += a0 * d[o0 + j]! + a1 * d[o1 + j]! + a2 * d[o2 + j]! + a3 * d[o3 + j]!;
    }
  }
  for (; r < n; r++) {
    const o = r * width;
    for (let i = 0; i < input; i++) {
      const a = h[r * input + i]!;
      if (a === 0) continue;
      const k = kernel + i * width;
      for (let j = 0; j < width; j++) grad[k + j]! += a * d[o + j]!;
    }
  }
  if (bias < 0) return;
  for (let row = 0; row < n; row++) for (let j = 0; j < width; j++) grad[bias + j]! += d[row * width + j]!;
}

/** below[n, input] = d[n, width] · W^T. */
function backProduct(d: Float64Array, w: Float64Array, kernel: number, n: number, input: number, width: number, below: Float64Array): void {
  below.fill(0, 0, n * input);
  backProductAdd(d, w, kernel, n, input, width, below);
}

/** below[n, input] += d[n, width] · W^T: dot products with four accumulators, which the CPU can overlap. */
function backProductAdd(
  d: Float64Array,
  w: Float64Array,
  kernel: number,
  n: number,
  input: number,
  width: number,
  below: Float64Array,
): void {
  for (let r = 0; r < n; r++) {
    const o = r * width;
    for (let i = 0; i < input; i++) {
      const k = kernel + i * width;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let j = 0;
      for (; j + 3 < width; j += 4) {
        s0 += d[o + j]! * w[k + j]!;
        s1 += d[o + j + 1]! * w[k + j + 1]!;
        s2 += d[o + j + 2]! * w[k + j + 2]!;
        s3 += d[o + j + 3]! * w[k + j + 3]!;
      }
      for (; j < width; j++) s0 += d[o + j]! * w[k + j]!;
      below[r * input + i]! += s0 + s1 + s2 + s3;
    }
  }
}
