import { describe, expect, it } from 'vitest';
import { adapterName, chooseBackend, isSoftwareAdapter, isSoftwareRenderer, median, type BackendProbe } from './backend-choice.js';

describe('chooseBackend', () => {
  it('picks the fastest measured backend and lists the timings', () => {
    // Prepare
    const probes: BackendProbe[] = [
      { name: 'webgl', available: true, msPerStep: 1.2 },
      { name: 'wasm', available: true, msPerStep: 3.9 },
      { name: 'cpu', available: true, msPerStep: 15 },
    ];
    // Execute
    const choice = chooseBackend(probes);
    // Assert
    expect(choice.backend).toBe('webgl');
    expect(choice.reason).toBe('WebGL (fastest in the benchmark: WebGL 1.2 ms/step, WASM 3.9 ms/step, CPU 15.0 ms/step)');
  });

  it('says why when WebGL is unavailable', () => {
    const choice = chooseBackend([
      { name: 'webgl', available: false, unavailableReason: 'no WebGL context' },
      { name: 'wasm', available: true, msPerStep: 4 },
      { name: 'cpu', available: true, msPerStep: 15 },
    ]);
    expect(choice.backend).toBe('wasm');
    expect(choice.reason).toMatch(/^WebGL unavailable \(no WebGL context\): fell back to WASM/);
  });

  it('skips a software WebGL for the MLP and names the renderer', () => {
    const choice = chooseBackend([
      { name: 'webgl', available: true, skippedReason: 'WebGL renders in software (SwiftShader), not benchmarked' },
      { name: 'wasm', available: true, msPerStep: 4 },
      { name: 'cpu', available: true, msPerStep: 15 },
    ]);
    expect(choice.backend).toBe('wasm');
    expect(choice.reason).toContain('SwiftShader');
  });

  it('takes a measured hardware WebGPU when it is fastest, and skips a software WebGPU adapter with the reason', () => {
    const fast = chooseBackend([
      { name: 'webgpu', available: true, msPerStep: 0.8 },
      { name: 'webgl', available: true, msPerStep: 1.2 },
      { name: 'wasm', available: true, msPerStep: 3.9 },
      { name: 'cpu', available: true, msPerStep: 15 },
    ]);
    const software = chooseBackend([
      { name: 'webgpu', available: true, skippedReason: 'WebGPU runs in software (google swiftshader), so it was not benchmarked' },
      { name: 'webgl', available: true, skippedReason: 'WebGL renders in software (SwiftShader), so it was not benchmarked' },
      { name: 'wasm', available: true, msPerStep: 4 },
      { name: 'cpu', available: true, msPerStep: 15 },
    ]);
    const none = chooseBackend([
      { name: 'webgpu', available: false, unavailableReason: 'this browser has no WebGPU (navigator.gpu)' },
      { name: 'wasm', available: true, msPerStep: 4 },
    ]);
    expect(fast.backend).toBe('webgpu');
    expect(fast.reason).toMatch(/^WebGPU \(fastest in the benchmark: WebGPU 0\.8 ms\/step, WebGL 1\.2/);
    expect(software.backend).toBe('wasm');
    expect(software.reason).toMatch(/^WebGPU runs in software \(google swiftshader\), so it was not benchmarked; WebGL renders/);
    expect(none.reason).toMatch(/^WebGPU unavailable \(this browser has no WebGPU \(navigator\.gpu\)\): fell back to WASM/);
  });

  it('recognises the browser’s software WebGPU adapter, as Chromium describes its SwiftShader fallback', () => {
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader', description: '', isFallbackAdapter: true })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader' })).toBe(true);
    expect(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'ampere', isFallbackAdapter: false })).toBe(false);
    expect(isSoftwareAdapter(null)).toBe(false);
    expect(adapterName({ vendor: 'google', architecture: 'swiftshader', description: '' })).toBe('google swiftshader');
    expect(adapterName({})).toBe('unknown adapter');
  });

  it('never picks wasm for a CNN, even when it measured fastest', () => {
    const probes: BackendProbe[] = [
      { name: 'webgl', available: true, msPerStep: 20 },
      { name: 'wasm', available: true, msPerStep: 4 },
      { name: 'cpu', available: true, msPerStep: 15 },
    ];
    const choice = chooseBackend(probes, 'cnn');
    expect(choice.backend).toBe('cpu');
    expect(choice.reason).toContain('WASM cannot train a CNN');
  });

  it('prefers an unmeasured software WebGL over the CPU for a CNN', () => {
    const choice = chooseBackend(
      [
        { name: 'webgl', available: true, skippedReason: 'software renderer' },
        { name: 'wasm', available: true, msPerStep: 4 },
        { name: 'cpu', available: true, msPerStep: 15 },
      ],
      'cnn',
    );
    expect(choice.backend).toBe('webgl');
  });

  it('falls back to the CPU when nothing else can be used', () => {
    const choice = chooseBackend([
      { name: 'webgl', available: false },
      { name: 'wasm', available: false, unavailableReason: 'no WebAssembly' },
      { name: 'cpu', available: true, msPerStep: 15 },
    ]);
    expect(choice.backend).toBe('cpu');
    expect(choice.reason).toMatch(/WebGL unavailable; WASM unavailable \(no WebAssembly\): fell back to CPU/);
  });
});

describe('isSoftwareRenderer', () => {
  it('recognises SwiftShader and llvmpipe but not a GPU', () => {
    expect(isSoftwareRenderer('ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero) (0x0000C0DE)), SwiftShader driver)')).toBe(true);
    expect(isSoftwareRenderer('llvmpipe (LLVM 15.0.6, 256 bits)')).toBe(true);
    expect(isSoftwareRenderer('ANGLE (NVIDIA, NVIDIA GeForce RTX 3080 Direct3D11 vs_5_0 ps_5_0)')).toBe(false);
    expect(isSoftwareRenderer(null)).toBe(false);
  });
});

describe('median', () => {
  it('takes the middle of odd and even counts', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
