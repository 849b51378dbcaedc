import { describe, expect, it } from 'vitest';
import type {
  Ack,
  EvaluationReport,
  Farewell,
  Hello,
  ParticipantStatusReport,
  RoundTask,
  ServerToClientEvents,
  UpdateMeta,
  UpdateReady,
  UpdateReceipt,
  Welcome,
} from '../protocol.js';
import { PROTOCOL_VERSION } from '../protocol.js';
import { MemoryCredentials } from './credentials.js';
import { ParticipantSession, type HelloBody, type ParticipantSessionOptions, type ParticipantSocket } from './session.js';

type Reply = Ack<Welcome> | Ack<UpdateReceipt>;
type Listener = (...args: unknown[]) => void;

/**
 * An in-memory stand-in for a socket.io-client socket and the hub behind it (core cannot import socket.io; the
 * real sockets are covered by the hub's tests). By default the hub welcomes every hello, issuing an id and a
 * secret, and accepts every update.
 */
class FakeHubSocket implements ParticipantSocket {
  connected = false;
  readonly hellos: Hello[] = [];
  readonly statuses: ParticipantStatusReport[] = [];
  readonly submits: { event: string; args: unknown[] }[] = [];
  /** The hub's answer to each acknowledged event; a test replaces it (a pending promise holds the answer back). */
  answer: (event: string, args: unknown[]) => Reply | Promise<Reply> = (event, args) =>
    event === 'participant:hello' ? this.welcome(args[0] as Hello) : { ok: true, data: { round: 1, received: 1 } };
  private readonly listeners = new Map<string, Set<Listener>>();
  private issued = 0;

  welcome(hello: Hello, overrides: Partial<Welcome> = {}): Ack<Welcome> {
    const participantId = hello.participantId ?? `p-${++this.issued}`;
    return {
      ok: true,
      data: { participantId, participantSecret: `secret-of-${participantId}`, maxMessageBytes: 2048, assignment: null, ...overrides },
    };
  }

  on(event: string, listener: (...args: never[]) => void): this {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(listener as Listener);
    return this;
  }

  off(event: string, listener: (...args: never[]) => void): this {
    this.listeners.get(event)?.delete(listener as Listener);
    return this;
  }

  emit(event: 'participant:status', status: ParticipantStatusReport): this {
    expect(event).toBe('participant:status');
    this.statuses.push(status);
    return this;
  }

  timeout(): AckEmitter {
    return new AckEmitter(this);
  }

  connect(): this {
    if (!this.connected) {
      this.connected = true;
      this.fire('connect');
    }
    return this;
  }

  disconnect(): this {
    return this.drop('io client disconnect');
  }

  // ---- the hub's side ----

  /** The hub closes the connection (socket.io does not reconnect by itself after this). */
  drop(reason: string): this {
    if (this.connected) {
      this.connected = false;
      this.fire('disconnect', reason);
    }
    return this;
  }

  send<E extends keyof ServerToClientEvents>(event: E, ...args: Parameters<ServerToClientEvents[E]>): void {
    this.fire(event, ...args);
  }

  private fire(event: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(event) ?? []) listener(...args);
  }
}

class AckEmitter {
  constructor(private readonly hub: FakeHubSocket) {}
  emitWithAck(event: 'participant:hello', hello: Hello): Promise<Ack<Welcome>>;
  emitWithAck(event: 'update:submit', meta: UpdateMeta, frame: ArrayBuffer | Uint8Array): Promise<Ack<UpdateReceipt>>;
  emitWithAck(event: 'eval:submit', report: EvaluationReport): Promise<Ack<UpdateReceipt>>;
  emitWithAck(event: 'update:ready', ready: UpdateReady): Promise<Ack<UpdateReceipt>>;
  async emitWithAck(event: string, ...args: unknown[]): Promise<Reply> {
    if (!this.hub.connected) throw new Error('operation has timed out');
    if (event === 'participant:hello') this.hub.hellos.push(args[0] as Hello);
    else this.hub.submits.push({ event, args });
    return this.hub.answer(event, args);
  }
}

const body: HelloBody = { backend: 'test', examples: 40, heldOut: false, dataSource: 'own' };
const meta: UpdateMeta = { runId: 'run-1', round: 1, modelVersion: 0, numExamples: 40, loss: 0.5, trainMs: 3 };

/** Lets the fake hub's answers and a zero-delay reconnect run. */
const settled = () => new Promise((resolve) => setTimeout(resolve, 0));

function setup(options: Partial<ParticipantSessionOptions> = {}) {
  const socket = new FakeHubSocket();
  const credentials = options.credentials ?? new MemoryCredentials();
  const welcomes: Welcome[] = [];
  const refusals: string[] = [];
  const problems: string[] = [];
  const farewells: Farewell[] = [];
  const session = new ParticipantSession({
    socket,
    credentials,
    hello: () => body,
    reconnectDelayMs: 0,
    onWelcome: (w) => welcomes.push(w),
    onHelloRefused: (r) => refusals.push(`${r.code ?? '-'}: ${r.error}`),
    onConnectionProblem: (m) => problems.push(m),
    onFarewell: (f) => farewells.push(f),
    ...options,
  });
  return { socket, credentials, session, welcomes, refusals, problems, farewells };
}

describe('ParticipantSession: hello and identity', () => {
  it('says hello on connect, keeps the issued id and secret, and presents both on every reconnect', async () => {
    // Prepare
    const { socket, session, credentials, welcomes } = setup();
    // Execute
    session.connect();
    await settled();
    socket.drop('transport close');
    socket.connect();
    await settled();
    // Assert
    expect(socket.hellos).toEqual([
      { protocolVersion: PROTOCOL_VERSION, ...body },
      { protocolVersion: PROTOCOL_VERSION, participantId: 'p-1', participantSecret: 'secret-of-p-1', ...body },
    ]);
    expect(welcomes.map((w) => w.participantId)).toEqual(['p-1', 'p-1']);
    expect([credentials.id, credentials.secret]).toEqual(['p-1', 'secret-of-p-1']);
  });

  it("forgets an id the hub refuses as somebody else's and says hello again without it", async () => {
    // Prepare: credentials for an id another participant holds now.
    const credentials = new MemoryCredentials('taken-id');
    const { socket, session, welcomes, refusals } = setup({ credentials });
    socket.answer = (_event, args) => {
      const hello = args[0] as Hello;
      return hello.participantId
        ? { ok: false, code: 'identity-refused', error: 'participant taken-id is held by another connection' }
        : socket.welcome(hello);
    };
    // Execute
    session.connect();
    await settled();
    // Assert
    expect(socket.hellos.map((h) => h.participantId)).toEqual(['taken-id', undefined]);
    expect(welcomes.map((w) => w.participantId)).toEqual(['p-1']);
    expect(credentials.id).toBe('p-1');
    expect(refusals).toEqual([]);
  });

  it('reports a refused hello with its code, and a hello the hub does not answer', async () => {
    // Prepare
    const { socket, session, welcomes, refusals } = setup();
    socket.answer = () => ({ ok: false, code: 'client-too-old', error: 'protocol version 0 is not supported' });
    // Execute
    session.connect();
    await settled();
    socket.answer = () => Promise.reject(new Error('operation has timed out'));
    await session.hello();
    // Assert
    expect(welcomes).toEqual([]);
    expect(refusals).toEqual([
      'client-too-old: protocol version 0 is not supported',
      expect.stringMatching(/^unavailable: no answer to hello .*timed out/),
    ]);
  });

  it('acts only on the answer to the latest hello', async () => {
    // Prepare: the hub holds the first answer back until the second hello is answered.
    const { socket, session, welcomes } = setup();
    let releaseFirst: (reply: Reply) => void = () => undefined;
    socket.answer = () => new Promise<Reply>((resolve) => (releaseFirst = resolve));
    session.connect();
    const first = socket.hellos[0]!;
    socket.answer = (_event, args) => socket.welcome(args[0] as Hello, { maxMessageBytes: 4096 });
    // Execute
    await session.hello();
    releaseFirst(socket.welcome(first, { maxMessageBytes: 1 }));
    await settled();
    // Assert: the stale answer changed nothing, its small limit included.
    expect(welcomes.map((w) => w.maxMessageBytes)).toEqual([4096]);
    expect((await session.submitUpdate(meta, new Uint8Array(100))).ok).toBe(true);
  });
});

describe('ParticipantSession: reconnecting', () => {
  it('reconnects after the hub closed the connection, and says hello again', async () => {
    // Prepare
    const { socket, session, problems } = setup();
    session.connect();
    await settled();
    // Execute
    socket.drop('io server disconnect');
    await settled();
    // Assert
    expect(socket.connected).toBe(true);
    expect(socket.hellos).toHaveLength(2);
    expect(problems).toEqual(['connection lost (io server disconnect); reconnecting']);
  });

  it('stays away when a farewell said not to come back, and tells why', async () => {
    // Prepare
    const { socket, session, farewells, problems } = setup();
    session.connect();
    await settled();
    const notice: Farewell = { code: 'replaced', reason: 'participant p-1 connected again from a newer connection', reconnect: false };
    // Execute
    socket.send('participant:farewell', notice);
    socket.drop('io server disconnect');
    await settled();
    // Assert
    expect(socket.connected).toBe(false);
    expect(farewells).toEqual([notice]);
    expect(problems).toEqual([]);
  });

  it('comes back after a farewell that allows it', async () => {
    // Prepare
    const { socket, session, farewells } = setup();
    session.connect();
    await settled();
    // Execute
    socket.send('participant:farewell', { code: 'flooding', reason: 'slow down', reconnect: true });
    socket.drop('io server disconnect');
    await settled();
    // Assert
    expect(socket.connected).toBe(true);
    expect(farewells).toEqual([]);
  });

  it('stays disconnected when the participant itself disconnects, until it connects again', async () => {
    // Prepare
    const { socket, session } = setup();
    session.connect();
    await settled();
    // Execute
    session.disconnect();
    socket.drop('io server disconnect');
    await settled();
    const away = socket.connected;
    session.connect();
    await settled();
    // Assert
    expect(away).toBe(false);
    expect(socket.connected).toBe(true);
    expect(socket.hellos).toHaveLength(2);
  });
});

describe('ParticipantSession: status reports', () => {
  it('tells the hub only what changed, and the current state again after each hello (the hub resets it)', async () => {
    // Prepare
    const { socket, session } = setup();
    session.reportStatus({ state: 'waiting', message: 'loading data' }); // not connected yet: kept for later
    session.connect();
    await settled();
    // Execute
    for (const step of [1, 2, 3]) session.reportStatus({ state: 'training', round: 1, ...{ step } });
    session.reportStatus({ state: 'uploading', round: 1 });
    session.reportStatus({ state: 'connecting', message: 'cannot reach the hub' });
    session.reportStatus({ state: 'done', round: 1 });
    await session.hello();
    session.reportStatus({ state: 'done', round: 1 });
    session.reportStatus({ state: 'waiting' });
    await session.hello();
    // Assert: 'connecting' is the hub's word, never claimed; after a hello the hub thinks 'waiting'.
    expect(socket.statuses).toEqual([
      { state: 'waiting', message: 'loading data' },
      { state: 'training', round: 1 },
      { state: 'uploading', round: 1 },
      { state: 'done', round: 1 },
      { state: 'done', round: 1 },
      { state: 'waiting' },
    ]);
  });

  it('cuts a message longer than the hub accepts', async () => {
    // Prepare
    const { socket, session } = setup();
    session.connect();
    await settled();
    // Execute
    session.reportStatus({ state: 'error', round: 2, message: 'x'.repeat(10_000) });
    // Assert
    expect(socket.statuses).toHaveLength(1);
    expect(socket.statuses[0]!.message!.length).toBeLessThan(10_000);
  });
});

describe('ParticipantSession: the participant channel', () => {
  it('passes round tasks on until unsubscribed, and assignments and cancellations', () => {
    // Prepare
    const assignments: unknown[] = [];
    const cancelled: unknown[] = [];
    const { socket, session } = setup({ onAssign: (a) => assignments.push(a), onRoundCancelled: (c) => cancelled.push(c) });
    const tasks: RoundTask['round'][] = [];
    const stop = session.onTask((task) => tasks.push(task.round));
    const task = { round: 7 } as RoundTask;
    const assignment = { scenario: { name: 'sinusoid' as const, participants: 4, seed: 1 }, index: 2 };
    // Execute
    socket.send('round:start', task, new Uint8Array(8));
    stop();
    socket.send('round:start', task, new Uint8Array(8));
    socket.send('participant:assign', assignment);
    socket.send('round:cancel', { runId: 'run-1', round: 7, reason: 'stopped' });
    // Assert
    expect(tasks).toEqual([7]);
    expect(assignments).toEqual([assignment]);
    expect(cancelled).toEqual([{ runId: 'run-1', round: 7, reason: 'stopped' }]);
  });

  it('submits updates and evaluations with an ack, within the message limit of the latest welcome', async () => {
    // Prepare
    const { socket, session } = setup();
    const early = await session.submitUpdate(meta, new Uint8Array(10));
    session.connect();
    await settled();
    const report: EvaluationReport = {
      runId: 'run-1',
      round: 1,
      modelVersion: 0,
      evaluation: { metric: 'mse', before: 2, after: 1, adaptSteps: 5, testExamples: 10 },
    };
    // Execute
    const accepted = await session.submitUpdate(meta, new Uint8Array(100));
    const oversize = await session.submitUpdate(meta, new Uint8Array(2048));
    const evaluated = await session.submitEvaluation(report);
    socket.answer = () => ({ ok: false, code: 'stale', error: 'round 1 is over' });
    const refused = await session.submitUpdate(meta, new Uint8Array(100));
    socket.answer = () => Promise.reject(new Error('operation has timed out'));
    const unanswered = await session.submitEvaluation(report);
    // Assert
    expect(early).toMatchObject({ ok: false, code: 'unavailable' });
    expect(accepted).toEqual({ ok: true, data: { round: 1, received: 1 } });
    expect(oversize).toMatchObject({ ok: false, code: 'invalid-frame' });
    expect(oversize.ok || oversize.error).toContain('2048 bytes exceeds');
    expect(evaluated.ok).toBe(true);
    expect(refused).toEqual({ ok: false, code: 'stale', error: 'round 1 is over' });
    expect(unanswered).toMatchObject({ ok: false, code: 'unavailable' });
    expect(unanswered.ok || unanswered.error).toContain('eval:submit');
    expect(socket.submits.map((s) => s.event)).toEqual(['update:submit', 'eval:submit', 'update:submit', 'eval:submit']);
  });

  it('announces a secure update with update:ready, and answers each secure aggregation stage through its ack', async () => {
    // Prepare
    const { socket, session } = setup();
    session.connect();
    await settled();
    const asked: string[] = [];
    const stop = session.onSecAgg((stage, request) => {
      asked.push(`${stage} ${JSON.stringify(request)}`);
      // The session passes answers on as they are: a test answer needs no real keys.
      return Promise.resolve(
        stage === 'share' ? { ok: false, code: 'refused', error: 'no' } : ({ ok: true, data: { encKey: 'k', maskKey: 'm' } } as never),
      );
    });
    const replies: unknown[] = [];
    // Execute
    const ready = await session.submitReady({ runId: 'run-1', round: 1, modelVersion: 0 });
    socket.send('secagg:advertise', { sessionId: 's' } as never, (reply) => replies.push(reply));
    socket.send('secagg:share', { sessionId: 's' } as never, (reply) => replies.push(reply));
    await settled();
    stop();
    socket.send('secagg:mask', { sessionId: 's' } as never, (reply) => replies.push(reply));
    await settled();
    // Assert
    expect(ready).toEqual({ ok: true, data: { round: 1, received: 1 } });
    expect(socket.submits).toEqual([{ event: 'update:ready', args: [{ runId: 'run-1', round: 1, modelVersion: 0 }] }]);
    expect(asked).toEqual(['advertise {"sessionId":"s"}', 'share {"sessionId":"s"}']);
    expect(replies).toEqual([
      { ok: true, data: { encKey: 'k', maskKey: 'm' } },
      { ok: false, code: 'refused', error: 'no' },
    ]);
  });
});
