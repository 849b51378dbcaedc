// Test helper: a real hub on 127.0.0.1 port 0 with a temporary data directory, closed after each test.
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROTOCOL_VERSION, encodeFrame, type MlpSpec, type RoundTask, type RunConfigInput } from '@tabula/core';
import { afterEach } from 'vitest';
import { createHub, type Hub, type HubOptions } from './hub.js';

export const TEST_TOKEN = 'test-admin-token-0123';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Runs `cleanup` after the current test (last registered, first run). */
export function afterThisTest(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

export async function startTestHub(options: Partial<HubOptions> = {}): Promise<{ hub: Hub; url: string; port: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tabula-hub-'));
  afterThisTest(() => rmSync(dataDir, { recursive: true, force: true }));
  const hub = await createHub({ dataDir, adminToken: TEST_TOKEN, ...options });
  afterThisTest(() => hub.close());
  await new Promise<void>((resolve) => hub.http.listen(0, '127.0.0.1', resolve));
  const port = (hub.http.address() as AddressInfo).port;
  return { hub, url: `http://127.0.0.1:${port}`, port };
}

/** Polls `read` until it returns something truthy; a bounded wait with a message naming what did not happen. */
export async function waitFor<T>(read: () => T | null | undefined | false, what: string, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The smallest classifier: 2 inputs, 2 outputs, 6 parameters, so tests can check weights on literal numbers. */
export const TINY_MLP: MlpSpec = { kind: 'mlp', inputShape: [2], hidden: [], outputs: 2, task: 'classification' };
export const TINY_LENGTH = 6;

/** A one-round FedAvg run of the tiny model with plain server SGD; tests override what they exercise. */
export function runConfig(overrides: Partial<RunConfigInput> = {}): RunConfigInput {
  return {
    algorithm: 'fedavg',
    model: TINY_MLP,
    rounds: 1,
    perRound: 3,
    minParticipants: 1,
    waitForParticipantsMs: 5000,
    roundDeadlineMs: 10_000,
    server: { kind: 'sgd', lr: 1 },
    seed: 7,
    ...overrides,
  };
}

/** The delta frame a participant uploads for `task`. */
export function deltaFrame(
  task: RoundTask,
  values: Float32Array,
  overrides: { round?: number; allowNonFinite?: boolean } = {},
): Uint8Array {
  return encodeFrame({
    kind: 'delta',
    protocolVersion: PROTOCOL_VERSION,
    runId: task.runId,
    round: overrides.round ?? task.round,
    modelVersion: task.modelVersion,
    dtype: 'float32',
    values,
    allowNonFinite: overrides.allowNonFinite ?? false,
  });
}
