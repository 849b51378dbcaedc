import { RunRequestSchema, parseOrError, type Ack, type RunSummary } from '@tabula/core';
import type { ConnectionKit } from './connection-kit.js';
import type { RunService } from './run-service.js';

/**
 * The dashboard's side of a connection (authenticated at the handshake): start and stop runs. A participant's
 * connection asking for these is refused.
 */
export function handleAdmin(isAdmin: boolean, kit: ConnectionKit, runs: RunService): void {
  kit.on('admin:start-run', async (config, ack) => {
    if (typeof ack !== 'function') return;
    const reply = ack as (reply: Ack<RunSummary>) => void;
    if (!isAdmin) return reply({ ok: false, code: 'unauthorized', error: 'admin token required' });
    reply(await runs.start(config));
  });

  kit.on('admin:stop-run', async (request, ack) => {
    if (typeof ack !== 'function') return;
    const reply = ack as (reply: Ack<RunSummary>) => void;
    if (!isAdmin) return reply({ ok: false, code: 'unauthorized', error: 'admin token required' });
    const parsed = parseOrError(RunRequestSchema, request);
    if (!parsed.ok) return reply({ ok: false, code: 'invalid', error: parsed.error });
    reply(await runs.stop(parsed.data.runId));
  });
}
