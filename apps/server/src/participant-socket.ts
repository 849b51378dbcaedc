import {
  HelloSchema,
  PROTOCOL_VERSION,
  ParticipantStatusSchema,
  parseOrError,
  type Ack,
  type ScenarioSpec,
  type UpdateReceipt,
  type Welcome,
} from '@tabula/core';
import type { ConnectionKit } from './connection-kit.js';
import type { HubSocket } from './hub-socket.js';
import type { Logger } from './logger.js';
import type { Registry } from './registry.js';
import type { RoundInbox } from './hub-cluster.js';
import type { ShardAssigner } from './shard-assigner.js';
import { ackOf, clientText } from './socket-guard.js';

export interface ParticipantSocketDeps {
  readonly registry: Registry;
  /** Where answers to the open round go: the running run's controller, or, with several hubs, this hub's part of it. */
  rounds(): RoundInbox | null;
  /** The running run's scenario, whose shards new participants get. */
  runningScenario(): ScenarioSpec | undefined;
  /**
   * Several hubs: identities are shared. An id this hub has not seen may be taken only with the secret issued for it
   * at another hub, and a hello here makes the hub that had it before drop its connection.
   */
  /** Several hubs: reads which shards the other hubs' tabs hold, before this hub hands one out. */
  beforeShard?(): Promise<void>;
  /**
   * Pace steering: why this hub takes no more participants now (above its connection budget), with a live hub that
   * has room, or null when it takes this one.
   */
  admission?(): Promise<{ readonly error: string; readonly redirect?: string } | null>;
  readonly identities?: {
    refusal(participantId: string, secret: string | undefined): Promise<string | null>;
    claimed(participantId: string, secret: string): Promise<void>;
  };
  readonly shards: ShardAssigner;
  /** Every message a participant sends must fit (the welcome tells it). */
  readonly maxMessageBytes: number;
  /** Another connection, by id (the one a reconnecting participant replaces). */
  socketById(socketId: string): HubSocket | null;
  now(): number;
  readonly logger: Logger;
}

/**
 * The participant's side of a connection: hello (identity and data assignment), status reports, updates and
 * evaluations. Every payload is validated here or by the run's round collector before it changes anything.
 */
export function handleParticipant(socket: HubSocket, kit: ConnectionKit, deps: ParticipantSocketDeps): void {
  const { registry, shards } = deps;

  kit.on('participant:hello', async (raw, ack) => {
    if (typeof ack !== 'function') return;
    const reply = ack as (reply: Ack<Welcome>) => void;
    if (socket.data.role === 'admin')
      return reply({ ok: false, code: 'conflict', error: 'an admin connection cannot join as a participant' });
    const version = (raw as { protocolVersion?: unknown } | null)?.protocolVersion;
    if (typeof version !== 'number' || version !== PROTOCOL_VERSION) {
      const tooOld = typeof version !== 'number' || version < PROTOCOL_VERSION;
      const reason = tooOld
        ? `protocol version ${clientText(version)} is older than this hub's ${PROTOCOL_VERSION}: reload the page`
        : `protocol version ${version} is newer than this hub's ${PROTOCOL_VERSION}: the hub must be upgraded`;
      reply({ ok: false, code: tooOld ? 'client-too-old' : 'server-too-old', error: reason });
      kit.farewell(socket, { code: 'protocol-version', reason, reconnect: false });
      return;
    }
    const parsed = parseOrError(HelloSchema, raw);
    if (!parsed.ok) return reply({ ok: false, code: 'invalid', error: `malformed hello: ${parsed.error}` });
    const hello = parsed.data;
    const { identities } = deps;
    // A connection that already is a participant says hello again (its data changed): it has its place.
    if (deps.admission && !registry.idOf(socket.id)) {
      const full = await deps.admission();
      if (full) {
        kit.refused(`hello refused: ${full.error}`);
        return reply({ ok: false, code: 'full', error: full.error, ...(full.redirect ? { redirect: full.redirect } : {}) });
      }
    }
    if (identities && hello.participantId !== undefined && !registry.get(hello.participantId) && !registry.idOf(socket.id)) {
      const refusal = await identities.refusal(hello.participantId, hello.participantSecret);
      if (refusal) {
        kit.refused(`hello refused: ${refusal}`);
        return reply({ ok: false, code: 'identity-refused', error: refusal });
      }
    }
    if (deps.beforeShard && hello.dataSource === 'assigned' && hello.assignedIndex === undefined) await deps.beforeShard();
    const previous = registry.get(registry.idOf(socket.id) ?? hello.participantId ?? '');
    const running = deps.runningScenario();
    const shard = shards.assign(hello, previous, running);
    if (!shard.ok) return reply({ ok: false, code: 'conflict', error: shard.error });
    const { assignment } = shard;
    const claim = registry.join(
      socket.id,
      {
        ...hello,
        heldOut: shard.heldOut,
        validation: shard.validation,
        ...(assignment ? { scenario: assignment.scenario, assignedIndex: assignment.index } : {}),
      },
      deps.now(),
    );
    if (!claim.ok) {
      kit.refused(`hello refused: ${claim.error}`);
      return reply({ ok: false, code: 'identity-refused', error: claim.error });
    }
    const id = claim.entry.id;
    const replaced = claim.replacedSocket ? deps.socketById(claim.replacedSocket) : null;
    if (replaced)
      kit.farewell(replaced, {
        code: 'replaced',
        reason: `participant ${id} connected again from a newer connection (a reload)`,
        reconnect: false,
      });
    await identities?.claimed(id, claim.secret);
    reply({ ok: true, data: { participantId: id, participantSecret: claim.secret, maxMessageBytes: deps.maxMessageBytes, assignment } });
    // A participant that rejoins holding another scenario than the running run's is offered a shard of it too.
    if (running) shards.offer([claim.entry], running);
  });

  kit.on('participant:status', (raw) => {
    const id = registry.idOf(socket.id);
    if (!id) return;
    const parsed = parseOrError(ParticipantStatusSchema, raw);
    if (!parsed.ok) return kit.refused(`status from ${id} ignored: ${parsed.error}`);
    const { state, message } = parsed.data;
    if (state === 'connecting') return;
    registry.update(id, { state, lastSeen: deps.now() });
    if (state === 'error') deps.rounds()?.participantFailed(id, `participant error: ${message?.slice(0, 200) ?? 'unknown'}`);
    // Paused mid-round (a person's choice, or a limit they set): the round stops waiting for it.
    if (state === 'paused') deps.rounds()?.participantFailed(id, 'paused by the person at the tab');
  });

  kit.on('update:submit', (...args) => {
    const ack = ackOf(args);
    if (!ack) return kit.refused('update:submit without an acknowledgement callback ignored');
    const reply = ack as (reply: Ack<UpdateReceipt>) => void;
    // The ack must come third: (meta, frame, ack). With two arguments the frame is missing.
    if (args.length !== 3)
      return reply({
        ok: false,
        code: 'invalid',
        error: `update:submit takes (meta, frame, ack); got ${args.length - 1} argument${args.length === 2 ? '' : 's'} before the acknowledgement: the binary frame is missing`,
      });
    const [meta, frame] = args;
    const id = registry.idOf(socket.id);
    if (!id) return reply({ ok: false, code: 'invalid', error: 'say participant:hello first' });
    const rounds = deps.rounds();
    if (!rounds) return reply({ ok: false, code: 'no-run', error: 'no run is in progress' });
    registry.update(id, { lastSeen: deps.now() });
    const result = rounds.submitUpdate(id, meta, frame);
    if (!result.ok) kit.refused(`update from ${id} rejected: ${result.error}`);
    reply(result);
  });

  /** update:ready and eval:submit: a participant's small acked answer to the open round of the running run. */
  const answer = (
    event: 'update:ready' | 'eval:submit',
    what: string,
    submit: (rounds: RoundInbox, id: string, payload: unknown) => Ack<UpdateReceipt>,
  ) =>
    kit.on(event, (payload, ack) => {
      if (typeof ack !== 'function') return;
      const reply = ack as (reply: Ack<UpdateReceipt>) => void;
      const id = registry.idOf(socket.id);
      if (!id) return reply({ ok: false, code: 'invalid', error: 'say participant:hello first' });
      const rounds = deps.rounds();
      if (!rounds) return reply({ ok: false, code: 'no-run', error: 'no run is in progress' });
      registry.update(id, { lastSeen: deps.now() });
      const result = submit(rounds, id, payload);
      if (!result.ok) kit.refused(`${what} from ${id} rejected: ${result.error}`);
      reply(result);
    });
  answer('update:ready', 'update:ready', (run, id, ready) => run.submitReady(id, ready));
  answer('eval:submit', 'evaluation', (run, id, report) => run.submitEvaluation(id, report));

  socket.on('disconnect', (reason) => {
    try {
      const entry = registry.leave(socket.id, deps.now());
      if (!entry) return;
      deps.rounds()?.participantFailed(entry.id, `disconnected (${reason})`);
      if (reason !== 'client namespace disconnect' && reason !== 'server namespace disconnect')
        deps.logger.info(`participant ${entry.id} disconnected: ${reason}`);
    } catch (error) {
      kit.failed('disconnect', error);
    }
  });
}
