/**
 * Server optimizers: turn a round's averaged delta Δ into new global weights, treating −Δ as a pseudo-gradient
 * (Reddi et al. 2021, "Adaptive Federated Optimization").
 */
import { ServerOptimizerSchema, parseOrError } from '../protocol.js';

export interface SgdConfig {
  readonly kind: 'sgd';
  /** Server learning rate; 1 is plain FedAvg (w + Δ). */
  readonly lr: number;
}

/** FedAvgM (Hsu et al. 2019): server momentum. */
export interface FedAvgMConfig {
  readonly kind: 'fedavgm';
  readonly lr: number;
  /** β in v = β·v + Δ, in [0, 1). */
  readonly momentum: number;
}

/** FedAdam (Reddi et al. 2021). */
export interface FedAdamConfig {
  readonly kind: 'fedadam';
  readonly lr: number;
  /** First-moment decay, in [0, 1). */
  readonly beta1: number;
  /** Second-moment decay, in [0, 1). */
  readonly beta2: number;
  /** Adaptivity: added to √v, > 0. Small τ makes each step close to lr·sign(m). */
  readonly tau: number;
}

export type ServerOptimizerConfig = SgdConfig | FedAvgMConfig | FedAdamConfig;
export type ServerOptimizerKind = ServerOptimizerConfig['kind'];

// The protocol's schema defines every default (one source of truth); these are its values, typed.
export const DEFAULT_SGD = ServerOptimizerSchema.parse({ kind: 'sgd' }) as SgdConfig;
export const DEFAULT_FEDAVGM = ServerOptimizerSchema.parse({ kind: 'fedavgm' }) as FedAvgMConfig;
export const DEFAULT_FEDADAM = ServerOptimizerSchema.parse({ kind: 'fedadam' }) as FedAdamConfig;

export const SERVER_OPTIMIZER_DEFAULTS: {
  readonly [K in ServerOptimizerKind]: Extract<ServerOptimizerConfig, { kind: K }>;
} = { sgd: DEFAULT_SGD, fedavgm: DEFAULT_FEDAVGM, fedadam: DEFAULT_FEDADAM };

/** Everything needed to resume an optimizer exactly: the store persists it beside the checkpoint. */
export interface ServerOptimizerState {
  readonly kind: ServerOptimizerKind;
  /** Updates applied so far. */
  readonly step: number;
  /** Named per-parameter buffers; empty before the first update. */
  readonly buffers: Record<string, Float32Array>;
}

export interface ServerOptimizer {
  readonly config: ServerOptimizerConfig;
  /** Updates applied so far. */
  readonly step: number;
  /** New global weights from the current ones and the averaged delta; a new array, inputs untouched. */
  update(global: Float32Array, delta: Float32Array): Float32Array;
  /** A copy of the state: later updates do not change it. */
  getState(): ServerOptimizerState;
  /** Replaces the state with a copy of `state`; throws on a wrong kind, buffer names or lengths. */
  setState(state: ServerOptimizerState): void;
}

const BUFFER_NAMES: { readonly [K in ServerOptimizerKind]: readonly string[] } = {
  sgd: [],
  fedavgm: ['velocity'],
  fedadam: ['m', 'v'],
};

/** Throws naming the field for a config the protocol's schema refuses (its bounds are the only ones). */
export function validateServerOptimizerConfig(config: ServerOptimizerConfig): void {
  const parsed = parseOrError(ServerOptimizerSchema, config);
  if (!parsed.ok) throw new RangeError(`server optimizer: ${parsed.error}`);
}

/**
 * Creates a server optimizer. Buffers are allocated, zeroed, on the first update, when the model size is known.
 *
 * - sgd: w + lr·Δ.
 * - fedavgm: v = β·v + Δ; w + lr·v.
 * - fedadam: m = β1·m + (1−β1)·Δ; v = β2·v + (1−β2)·Δ²; w + lr·m/(√v + τ). No bias correction and m, v start at 0,
 *   as in the paper's Algorithm 2 (which allows v₀ ≥ τ²; 0 keeps the first step simple to state) and Flower's
 *   FedAdam, so results compare with both. Consequence: the first rounds are damped where |Δ| is near τ.
 *
 * Arithmetic is per entry in float64; buffers are stored as float32, so a restored optimizer continues bit for bit.
 */
export function createServerOptimizer(config: ServerOptimizerConfig): ServerOptimizer {
  validateServerOptimizerConfig(config);
  const cfg: ServerOptimizerConfig = { ...config };
  const names = BUFFER_NAMES[cfg.kind];
  let step = 0;
  let buffers: Record<string, Float32Array> = {};

  const buffer = (name: string, length: number): Float32Array => {
    let b = buffers[name];
    if (b === undefined) {
      b = new Float32Array(length);
      buffers[name] = b;
    } else if (b.length !== length) {
      throw new RangeError(`server optimizer (${cfg.kind}): buffer '${name}' has ${b.length} parameters but the model has ${length}`);
    }
    return b;
  };

  const update = (global: Float32Array, delta: Float32Array): Float32Array => {
    const n = global.length;
    if (delta.length !== n) {
      throw new RangeError(`server optimizer: delta has ${delta.length} parameters, global weights ${n}`);
    }
    const out = new Float32Array(n);
    switch (cfg.kind) {
      case 'sgd': {
        const lr = cfg.lr;
        for (let i = 0; i < n; i++) out[i] = (global[i] as number) + lr * (delta[i] as number);
        break;
      }
      case 'fedavgm': {
        const { lr, momentum } = cfg;
        const vel = buffer('velocity', n);
        for (let i = 0; i < n; i++) {
          vel[i] = momentum * (vel[i] as number) + (delta[i] as number);
          out[i] = (global[i] as number) + lr * (vel[i] as number);
        }
        break;
      }
      case 'fedadam': {
        const { lr, beta1, beta2, tau } = cfg;
        // allocate both before writing either, so a length error leaves the state untouched
        const m = buffer('m', n);
        const v = buffer('v', n);
        for (let i = 0; i < n; i++) {
          const d = delta[i] as number;
          m[i] = beta1 * (m[i] as number) + (1 - beta1) * d;
          v[i] = beta2 * (v[i] as number) + (1 - beta2) * d * d;
          out[i] = (global[i] as number) + (lr * (m[i] as number)) / (Math.sqrt(v[i] as number) + tau);
        }
        break;
      }
      default: {
        const unknown: never = cfg;
        throw new TypeError(`server optimizer: unknown kind ${String(unknown)}`);
      }
    }
    step++;
    return out;
  };

  const getState = (): ServerOptimizerState => {
    const copy: Record<string, Float32Array> = {};
    for (const [name, b] of Object.entries(buffers)) copy[name] = b.slice();
    return { kind: cfg.kind, step, buffers: copy };
  };

  const setState = (state: ServerOptimizerState): void => {
    const where = `server optimizer (${cfg.kind}).setState`;
    if (state === null || typeof state !== 'object') throw new TypeError(`${where}: state must be an object`);
    if (state.kind !== cfg.kind) throw new TypeError(`${where}: state is for '${String(state.kind)}'`);
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new RangeError(`${where}: step must be a non-negative integer, got ${state.step}`);
    }
    const given = Object.keys(state.buffers ?? {}).sort();
    const expected = [...names].sort();
    const empty = given.length === 0;
    if (!empty && given.join(',') !== expected.join(',')) {
      throw new TypeError(`${where}: buffers [${given.join(', ')}], expected [${expected.join(', ')}]`);
    }
    if (empty && names.length > 0 && state.step > 0) {
      throw new TypeError(`${where}: step ${state.step} but no buffers [${expected.join(', ')}]`);
    }
    const next: Record<string, Float32Array> = {};
    let length: number | undefined;
    for (const name of given) {
      const b = state.buffers[name];
      if (!(b instanceof Float32Array)) throw new TypeError(`${where}: buffer '${name}' must be a Float32Array`);
      if (length !== undefined && b.length !== length) {
        throw new RangeError(`${where}: buffer '${name}' has ${b.length} parameters, the others ${length}`);
      }
      length = b.length;
      for (let i = 0; i < b.length; i++) {
        const x = b[i] as number;
        if (!Number.isFinite(x)) throw new RangeError(`${where}: buffer '${name}' holds a non-finite value at ${i}`);
        // a second moment is a mean of squares; a negative one would make √v NaN
        if (name === 'v' && x < 0) throw new RangeError(`${where}: buffer 'v' holds a negative value at ${i}`);
      }
      next[name] = b.slice();
    }
    buffers = next;
    step = state.step;
  };

  return {
    get config() {
      return { ...cfg };
    },
    get step() {
      return step;
    },
    update,
    getState,
    setState,
  };
}
