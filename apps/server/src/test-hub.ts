// Test helper: a real hub on 127.0.0.1 port 0 with a temporary data directory, closed after each test.
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PROTOCOL_VERSION,
  SECAGG_STAGES,
  SecureContribution,
  decodeFrame,
  secureInput,
  encodeFrame,
  type Ack,
  type ClientToServerEvents,
  type Hello,
  type MlpSpec,
  type ParticipantSocket,
  type RoundTask,
  type RunConfigInput,
  type SecAggStage,
  type ServerToClientEvents,
  type UpdateMeta,
  type UpdateReceipt,
} from '@tabula/core';
import { io, type Socket } from 'socket.io-client';
import { afterEach, expect } from 'vitest';
import { createHub, type EmbeddedHub, type HubOptions } from './hub.js';

export const TEST_TOKEN = 'test-admin-token-0123';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Runs `cleanup` after the current test (last registered, first run). */
export function afterThisTest(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

export async function startTestHub(
  options: Partial<Omit<HubOptions, 'databaseUrl'>> = {},
): Promise<{ hub: EmbeddedHub; url: string; port: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tabula-hub-'));
  afterThisTest(() => rmSync(dataDir, { recursive: true, force: true }));
  const hub = await createHub({ adminToken: TEST_TOKEN, ...options, dataDir: options.dataDir ?? dataDir });
  afterThisTest(() => hub.close());
  await new Promise<void>((resolve) => hub.http.listen(0, '127.0.0.1', resolve));
  const port = (hub.http.address() as AddressInfo).port;
  return { hub, url: `http://127.0.0.1:${port}`, port };
}

/** Polls `read` until it returns something truthy; a bounded wait with a message naming what did not happen. */
export async function waitFor<T>(
  read: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
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

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A round's task as a scripted client received it, with the weights frame decoded. */
export interface ScriptedTask {
  task: RoundTask;
  weights: Float32Array;
}

/** Says hello through core's typed view of the socket: socket.io-client types `timeout().emitWithAck` as any. */
export const sayHello = (socket: ParticipantSocket, hello: Hello) => socket.timeout(5000).emitWithAck('participant:hello', hello);

/** A socket.io connection to the hub as a test client (WebSocket, no reconnection), closed after the test. */
export async function connectedSocket(url: string, auth?: Record<string, string>): Promise<ClientSocket> {
  const socket: ClientSocket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true, ...(auth ? { auth } : {}) });
  afterThisTest(() => void socket.disconnect());
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  });
  return socket;
}

/** A participant that speaks the protocol by hand, so the test controls every byte it sends. */
export async function scriptedClient(url: string, id: string, examples = 10, secret?: string) {
  const socket = await connectedSocket(url);
  const tasks: ScriptedTask[] = [];
  const waiters: ((t: ScriptedTask) => void)[] = [];
  // Tasks come only after the hello below: listening once connected misses none.
  socket.on('round:start', (task, frame) => {
    const t = { task, weights: decodeFrame(frame).values };
    const waiter = waiters.shift();
    if (waiter) waiter(t);
    else tasks.push(t);
  });
  const welcome = await sayHello(socket, {
    protocolVersion: PROTOCOL_VERSION,
    participantId: id,
    ...(secret ? { participantSecret: secret } : {}),
    backend: 'test',
    examples,
    heldOut: false,
    dataSource: 'own',
  });
  expect(welcome).toMatchObject({ ok: true, data: { participantId: id } });
  const participantSecret = welcome.ok ? welcome.data.participantSecret : '';
  const nextTask = (): Promise<ScriptedTask> => {
    const queued = tasks.shift();
    return queued ? Promise.resolve(queued) : new Promise((resolve) => waiters.push(resolve));
  };
  const submit = (meta: UpdateMeta | Record<string, unknown>, frame: unknown): Promise<Ack<UpdateReceipt>> =>
    socket.timeout(5000).emitWithAck('update:submit', meta as UpdateMeta, frame as Uint8Array);
  return { socket, nextTask, submit, participantSecret };
}

/** An update's metadata for `task`: the loss and timing a participant would report. */
export function updateMeta(task: RoundTask, numExamples: number, overrides: Partial<UpdateMeta> = {}): UpdateMeta {
  return { runId: task.runId, round: task.round, modelVersion: task.modelVersion, numExamples, loss: 0.5, trainMs: 1, ...overrides };
}

/**
 * A participant of a secure aggregation run that trains nothing: for each task it says update:ready and answers the
 * stages from a SecureContribution of its literal delta over a real socket. `closeAt`: it closes its socket when this
 * stage's request comes. `sent` collects what it sent; the returned object, the weights it was sent.
 */
export async function secureTab(
  url: string,
  tab: { readonly id: string; readonly delta: readonly number[]; readonly examples: number },
  sent: { event: string; payload: unknown }[],
  closeAt?: SecAggStage,
): Promise<{ global?: Float32Array }> {
  const got: { global?: Float32Array } = {};
  const client = await scriptedClient(url, tab.id, tab.examples);
  const socket: ClientSocket = client.socket;
  let contribution: SecureContribution | null = null;
  for (const stage of SECAGG_STAGES) {
    socket.on(`secagg:${stage}`, (request: unknown, ack: (reply: never) => void) => {
      if (stage === closeAt) return void socket.disconnect();
      void contribution!.answer(stage, request).then((reply) => {
        sent.push({ event: `secagg:${stage}`, payload: reply });
        ack(reply as never);
      });
    });
  }
  void (async () => {
    const { task, weights } = await client.nextTask();
    got.global = weights;
    const { words } = secureInput(
      Float32Array.from(tab.delta),
      { numExamples: tab.examples, loss: 0.25 },
      task.secureAggregation!,
      (bytes) => crypto.getRandomValues(bytes),
    );
    const address = { runId: task.runId, round: task.round, modelVersion: task.modelVersion };
    contribution = new SecureContribution(address, words);
    sent.push({ event: 'update:ready', payload: address });
    await socket.timeout(5000).emitWithAck('update:ready', address);
  })();
  return got;
}
