import { expect, type BrowserContext, type Page, type Request } from '@playwright/test';
import { shardUrl } from './scenario.js';

/** Opens one tab per shard index and waits until each has joined the hub and holds its data. */
export async function openShardTabs(
  context: BrowserContext,
  scenario: { name: string; participants: number; seed?: number },
  indices: number[],
  baseUrl = '',
  extra = '',
): Promise<Page[]> {
  const tabs: Page[] = [];
  for (const index of indices) {
    const tab = await context.newPage();
    await tab.goto(`${baseUrl}${shardUrl(scenario, index, extra)}`);
    tabs.push(tab);
  }
  for (const tab of tabs) await expect(tab.getByTestId('participant-state')).toHaveAttribute('data-state', 'waiting', { timeout: 60_000 });
  return tabs;
}

export function participantIds(tabs: Page[]): Promise<string[]> {
  return Promise.all(tabs.map((tab) => tab.evaluate(() => window.tabula.participantId ?? '')));
}

/**
 * Everything `tab` sends from now on: WebSocket frames (text, and binary sizes) and HTTP requests. socket.io may carry
 * a message over HTTP long-polling instead (before the WebSocket upgrade, or after a reconnect), where packets are
 * separated by \x1e and binary ones are 'b' + base64: `collect()` counts those too, once the tab is done.
 */
export function recordSent(tab: Page): { text: string[]; binary: number[]; requests: Request[]; collect(): void } {
  const sent = { text: [] as string[], binary: [] as number[], requests: [] as Request[] };
  tab.on('websocket', (ws) =>
    ws.on('framesent', ({ payload }) => (typeof payload === 'string' ? sent.text.push(payload) : sent.binary.push(payload.byteLength))),
  );
  tab.on('request', (request) => sent.requests.push(request));
  return {
    ...sent,
    collect() {
      for (const request of sent.requests) {
        if (request.method() !== 'POST' || new URL(request.url()).pathname !== '/socket.io/') continue;
        for (const packet of (request.postData() ?? '').split('\x1e')) {
          if (packet.startsWith('b')) sent.binary.push(Buffer.from(packet.slice(1), 'base64').byteLength);
          else if (packet) sent.text.push(packet);
        }
      }
    },
  };
}
