/**
 * Which TF.js backend a tab trains on, as a pure function of what was probed and measured, so the rules are
 * unit-tested without a browser. The browser side (backend.ts) probes and benchmarks, then asks this.
 */
export const BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type ModelKind = 'mlp' | 'cnn';

export const BACKEND_LABEL: Record<BackendName, string> = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WASM', cpu: 'CPU' };

export function isBackendName(value: string): value is BackendName {
  return (BACKENDS as readonly string[]).includes(value);
}

/** What probing one backend found. */
export interface BackendProbe {
  readonly name: BackendName;
  readonly available: boolean;
  /** Why it could not be initialised. */
  readonly unavailableReason?: string;
  /** Median milliseconds per MLP training step; absent when not measured. */
  readonly msPerStep?: number;
  /** Why it was not measured although available (e.g. a software WebGL renderer). */
  readonly skippedReason?: string;
}

export interface BackendChoice {
  readonly backend: BackendName;
  /** One sentence a person can read: what was excluded and why this one won. */
  readonly reason: string;
}

/** SwiftShader, llvmpipe and friends: WebGL that runs on the CPU, slower here than WASM for small models. */
export function isSoftwareRenderer(renderer: string | null | undefined): boolean {
  return !!renderer && /swiftshader|llvmpipe|softpipe|software|basic render|mesa offscreen/i.test(renderer);
}

/** What a WebGPU adapter says of itself (GPUAdapterInfo, as far as this page reads it). */
export interface GpuAdapterInfo {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly description?: string;
  /** The browser's fallback adapter: WebGPU on the CPU (SwiftShader). */
  readonly isFallbackAdapter?: boolean;
}

/** A WebGPU adapter that runs on the CPU (Chromium's SwiftShader fallback): as the software WebGL renderer is. */
export function isSoftwareAdapter(info: GpuAdapterInfo | null | undefined): boolean {
  if (!info) return false;
  return info.isFallbackAdapter === true || [info.vendor, info.architecture, info.description].some((text) => isSoftwareRenderer(text));
}

/** How the page names an adapter: "google swiftshader", or "unknown adapter". */
export function adapterName(info: GpuAdapterInfo | null | undefined): string {
  const text = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ').trim();
  return text || 'unknown adapter';
}

/** tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter: it can run a CNN forward but not train one. */
export function canTrain(backend: BackendName, model: ModelKind): boolean {
  return !(backend === 'wasm' && model === 'cnn');
}

export const WASM_CNN_REASON = 'WASM cannot train a CNN (tfjs-backend-wasm 4.22 lacks Conv2DBackpropFilter)';

function timing(probe: BackendProbe): string {
  return `${BACKEND_LABEL[probe.name]} ${(probe.msPerStep ?? NaN).toFixed(1)} ms/step`;
}

/**
 * The backend to train on: the fastest measured one that can train this model kind. For a CNN, an
 * unmeasured (software) WebGL still beats the CPU backend by far (convolutions), so it is preferred then.
 */
export function chooseBackend(probes: readonly BackendProbe[], model: ModelKind = 'mlp'): BackendChoice {
  const notes: string[] = [];
  for (const p of probes) {
    if (!p.available) notes.push(`${BACKEND_LABEL[p.name]} unavailable${p.unavailableReason ? ` (${p.unavailableReason})` : ''}`);
    else if (!canTrain(p.name, model)) notes.push(WASM_CNN_REASON);
    else if (p.msPerStep === undefined && p.skippedReason) notes.push(p.skippedReason);
  }
  const eligible = probes.filter((p) => p.available && canTrain(p.name, model));
  const measured = eligible.filter((p) => p.msPerStep !== undefined).sort((a, b) => (a.msPerStep ?? 0) - (b.msPerStep ?? 0));
  const unmeasuredWebgl = eligible.find((p) => p.name === 'webgl' && p.msPerStep === undefined);

  let pick: BackendProbe | undefined;
  let why: string;
  if (model === 'cnn' && unmeasuredWebgl && !measured.some((p) => p.name === 'webgl')) {
    pick = unmeasuredWebgl;
    why = 'convolutions run far faster on WebGL (even in software) than on the CPU backend';
  } else if (measured.length > 0) {
    pick = measured[0];
    why =
      measured.length > 1
        ? `fastest in the benchmark: ${measured.map(timing).join(', ')}`
        : `the only one measured: ${measured.map(timing).join('')}`;
  } else {
    pick = eligible[0];
    why = 'the first available (nothing was measured)';
  }
  if (!pick) {
    return { backend: 'cpu', reason: [...notes, 'CPU used as the last resort'].join('; ') };
  }
  const lead = notes.length > 0 ? `${notes.join('; ')}: fell back to ${BACKEND_LABEL[pick.name]}` : `${BACKEND_LABEL[pick.name]}`;
  return { backend: pick.name, reason: `${lead} (${why})` };
}

/** The median of some timings; NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
