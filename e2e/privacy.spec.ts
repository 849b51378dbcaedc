import { expect, test } from '@playwright/test';
import { frameByteLength } from '../packages/core/src/wire/codec.js';
import { reptileRun, startRunApi, waitForRun } from './dashboard.js';
import { openShardTabs, recordSent } from './participants.js';
import { trainerIndices } from './scenario.js';

const scenario = { name: 'shards', participants: 24, seed: 1 } as const;
const ALLOWED_EVENTS = new Set(['participant:hello', 'participant:status', 'update:submit', 'eval:submit']);
const MLP_SEGMENTS = [78_400, 100, 1000, 10];

test('a participant tab sends only protocol messages and update frames of the expected size, never its examples', async ({
  browser,
  baseURL,
}) => {
  const context = await browser.newContext();
  const [watched] = await openShardTabs(context, scenario, trainerIndices(scenario, 1));
  // Everything this tab sends from now on: WebSocket frames and any HTTP request.
  const sent = recordSent(watched!);
  await watched!.reload();
  await expect(watched!.getByTestId('participant-state')).toHaveAttribute('data-state', 'waiting', { timeout: 60_000 });
  await openShardTabs(context, scenario, trainerIndices(scenario, 2).slice(1));

  const id = await startRunApi(baseURL!, reptileRun(scenario, 2, 2));
  const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running');
  expect(run.status).toBe('completed');

  sent.collect();
  const { text: sentText, binary: sentBinary, requests } = sent;

  // Binary frames: exactly one float32 delta frame per round, nothing else.
  const updateBytes = frameByteLength(79_510, 'float32', MLP_SEGMENTS, id);
  expect(sentBinary).toEqual([updateBytes, updateBytes]);
  // Text frames: socket.io/engine.io control packets or protocol events with small JSON.
  for (const text of sentText) {
    expect(text.length, text.slice(0, 200)).toBeLessThan(4096);
    const event = /^4[25]\d*-?\d*\["([^"]+)"/.exec(text)?.[1];
    if (event !== undefined) expect(ALLOWED_EVENTS.has(event), event).toBe(true);
    else expect(text).toMatch(/^(2|3|40|41|4[23]\d+\[|5|2probe|3probe)?/);
  }
  // HTTP: the page, its assets and the public MNIST asset; nothing is posted except socket.io polling packets.
  for (const request of requests) {
    if (request.method() !== 'GET') expect(new URL(request.url()).pathname).toBe('/socket.io/');
  }
  await context.close();
});
