import type { ParticipantChannel } from './participant.js';
import type { Ack, RoundTask, UpdateReceipt } from './protocol.js';

/**
 * The few socket.io client calls a participant needs, typed loosely so that core never imports socket.io.
 * Pass a socket.io-client `Socket` (typed with this protocol's event maps) as `socket as unknown as SocketLike`.
 */
export interface SocketLike {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  timeout(ms: number): { emitWithAck(event: string, ...args: unknown[]): Promise<unknown> };
}

export interface SocketChannelOptions {
  /** From the hub's Welcome: larger messages would be dropped together with the connection. */
  readonly maxMessageBytes: number;
  /** How long to wait for the hub's acknowledgement. */
  readonly ackTimeoutMs?: number;
}

/** A ParticipantChannel over a socket.io connection: every submit waits for an ack, with a timeout. */
export function socketChannel(socket: SocketLike, options: SocketChannelOptions): ParticipantChannel {
  const ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
  const send = async (event: string, ...args: unknown[]): Promise<Ack<UpdateReceipt>> => {
    try {
      const reply = await socket.timeout(ackTimeoutMs).emitWithAck(event, ...args);
      if (typeof reply === 'object' && reply !== null && 'ok' in reply) return reply as Ack<UpdateReceipt>;
      return { ok: false, error: `the hub answered ${event} with something that is not an acknowledgement` };
    } catch (error) {
      // socket.io rejects on timeout; a lost connection looks the same from here.
      return { ok: false, error: `no answer from the hub to ${event} within ${ackTimeoutMs} ms (${error instanceof Error ? error.message : String(error)})` };
    }
  };
  return {
    onTask(handler) {
      const listener = (task: RoundTask, weights: ArrayBuffer | Uint8Array) => handler(task, weights);
      socket.on('round:start', listener);
      return () => socket.off('round:start', listener);
    },
    async submitUpdate(meta, frame) {
      // socket.io would silently drop an over-limit message and the connection with it: refuse it visibly.
      if (frame.byteLength + 1024 > options.maxMessageBytes) {
        return { ok: false, error: `update frame of ${frame.byteLength} bytes exceeds the hub's message limit of ${options.maxMessageBytes} bytes` };
      }
      return send('update:submit', meta, frame);
    },
    submitEvaluation(report) {
      return send('eval:submit', report);
    },
  };
}
