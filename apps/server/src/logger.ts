import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A hub used as a library (tests, benchmarks) logs nothing unless given a logger. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * The hub's logger for `npm start`: one readable line per event on stdout (`pretty`), or one JSON object per
 * line for a log collector (`json`). Client-supplied text reaches it only through `clientText` (escaped and cut).
 */
export function createLogger(level: LogLevel, format: 'pretty' | 'json'): Logger {
  if (format === 'json') return pino({ level });
  // pino-pretty as a stream in this thread, not a transport: a worker thread would lose the last lines on exit.
  return pino({ level }, pretty({ colorize: false, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: true, sync: true }));
}

/** A logger that hands each message (its `msg`) to `onLine`: for benchmarks and tools that read the hub's log. */
export function lineLogger(onLine: (line: string) => void, level: LogLevel = 'info'): Logger {
  return pino(
    { level },
    {
      write(json: string) {
        const { msg } = JSON.parse(json) as { msg?: unknown };
        if (typeof msg === 'string') onLine(msg);
      },
    },
  );
}
