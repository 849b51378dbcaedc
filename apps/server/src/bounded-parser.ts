/**
 * socket.io's packet parser with the limits an open hub needs. A binary packet arrives as a JSON header that
 * announces its attachments, then the attachments one frame each; socket.io parks the header and every attachment
 * until the last one arrives. A client that announces ten 8 MB attachments and never sends the tenth would park
 * ~70 MiB per connection. Here:
 * - a packet may carry one attachment (the protocol's only binary message, update:submit, has one frame), so an
 *   attachment completes its packet the moment it arrives and nothing binary is ever parked;
 * - the header of a binary packet (metadata only) is at most `maxHeaderBytes` (the per-connection budget: a
 *   connection has at most one incomplete packet at a time);
 * - all connections together park at most `maxParkedBytes` of headers.
 * Breaking a limit is a protocol error: socket.io closes that connection and nobody else notices.
 */
import { Decoder as SocketIoDecoder, Encoder } from 'socket.io-parser';

export interface ParserLimits {
  readonly maxHeaderBytes: number;
  readonly maxParkedBytes: number;
}

export const DEFAULT_PARSER_LIMITS: ParserLimits = { maxHeaderBytes: 64 * 1024, maxParkedBytes: 64 * 1024 * 1024 };

/** socket.io packet types 5 and 6: BINARY_EVENT, BINARY_ACK (their header waits for attachments). */
const BINARY_HEADER = /^[56]/;

export function boundedParser(limits: ParserLimits = DEFAULT_PARSER_LIMITS): {
  Encoder: typeof Encoder;
  Decoder: typeof SocketIoDecoder;
  parked(): number;
} {
  let parkedTotal = 0;

  class Decoder extends SocketIoDecoder {
    private parked = 0;

    constructor() {
      super({ maxAttachments: 1 });
    }

    override add(obj: unknown): void {
      if (typeof obj === 'string' && BINARY_HEADER.test(obj)) {
        if (obj.length > limits.maxHeaderBytes)
          throw new Error(`binary packet header of ${obj.length} bytes; at most ${limits.maxHeaderBytes}`);
        if (parkedTotal - this.parked + obj.length > limits.maxParkedBytes) throw new Error('the hub holds too many incomplete packets');
        this.release();
        this.parked = obj.length;
        parkedTotal += obj.length;
      } else {
        // An attachment completes its packet (one per packet); a plain packet means none is pending.
        this.release();
      }
      try {
        super.add(obj);
      } catch (error) {
        this.release();
        throw error;
      }
    }

    override destroy(): void {
      this.release();
      super.destroy();
    }

    private release(): void {
      parkedTotal -= this.parked;
      this.parked = 0;
    }
  }

  return { Encoder, Decoder, parked: () => parkedTotal };
}
