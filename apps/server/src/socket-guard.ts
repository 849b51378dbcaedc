import type { Ack } from '@tabula/core';

/** The longest piece of client-supplied text a log line carries. */
const MAX_LOGGED_CHARS = 120;

/**
 * Client-supplied text as a log may show it: quoted and escaped (a newline cannot forge a line), and cut to a
 * sane length (a 1 MB event name does not become 1 MB of log).
 */
export function clientText(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  const text = typeof value === 'string' ? value : Object.prototype.toString.call(value);
  const cut = text.length > MAX_LOGGED_CHARS ? `${text.slice(0, MAX_LOGGED_CHARS)}…` : text;
  return `${JSON.stringify(cut)}${text.length > MAX_LOGGED_CHARS ? ` (${text.length} chars)` : ''}`;
}

/** The acknowledgement callback of a socket.io message: its last argument, when that is a function. */
export function ackOf(args: readonly unknown[]): ((reply: Ack<never>) => void) | null {
  const last = args.at(-1);
  return typeof last === 'function' ? (last as (reply: Ack<never>) => void) : null;
}

/**
 * Wraps a socket handler so that nothing it throws (or rejects with) reaches the process: the client gets an
 * `internal` error ack when it asked for one, and the failure is reported once. Every handler the hub registers
 * goes through this.
 */
export function guarded(
  event: string,
  handler: (...args: unknown[]) => void | Promise<void>,
  report: (event: string, error: unknown) => void,
): (...args: unknown[]) => void {
  return (...args) => {
    const fail = (error: unknown) => {
      report(event, error);
      try {
        ackOf(args)?.({ ok: false, code: 'internal', error: `the hub failed to handle ${event}; nothing changed` });
      } catch (ackError) {
        report(event, ackError);
      }
    };
    try {
      const result = handler(...args);
      if (result) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  };
}

/** Refusals of one connection logged per window; the rest are counted in one line. */
const REFUSAL_LOG_LINES = 5;
const REFUSAL_LOG_WINDOW_MS = 10_000;

/** Logs a connection's refusals, at most a few per window: one that keeps being refused would fill the log. */
export class RefusalLog {
  private logged = 0;
  private windowStart: number;

  constructor(
    private readonly write: (line: string, fields?: Record<string, unknown>) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.windowStart = now();
  }

  note(what: string): void {
    const t = this.now();
    if (t - this.windowStart > REFUSAL_LOG_WINDOW_MS) {
      if (this.logged > REFUSAL_LOG_LINES)
        this.write('further refusals of this connection were not logged', { suppressed: this.logged - REFUSAL_LOG_LINES });
      this.windowStart = t;
      this.logged = 0;
    }
    if (++this.logged <= REFUSAL_LOG_LINES) this.write(what);
  }
}
