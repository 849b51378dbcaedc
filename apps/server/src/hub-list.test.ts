import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createHub } from './hub.js';
import { startRedis } from './local-services.js';
import { TEST_TOKEN, afterThisTest, startTestHub, waitFor } from './test-hub.js';

type Listed = { id: string; facts: { url: string | null; participants: number } }[];

async function hubOn(redisUrl: string, hubId: string) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tabula-hub-'));
  afterThisTest(() => rmSync(dataDir, { recursive: true, force: true }));
  const hub = await createHub({ dataDir, adminToken: TEST_TOKEN, redisUrl, hubId });
  let closed: Promise<void> | null = null;
  const close = hub.close.bind(hub);
  hub.close = () => (closed ??= close());
  afterThisTest(() => hub.close());
  await new Promise<void>((resolve) => hub.http.listen(0, '127.0.0.1', resolve));
  return { hub, url: `http://127.0.0.1:${(hub.http.address() as AddressInfo).port}` };
}

const list = async (url: string) => (await (await fetch(`${url}/api/hubs`)).json()) as Listed;

describe('GET /api/hubs: where a tab can go', () => {
  it('hubs that share a Redis list each other with their URLs, and a hub that closes leaves the list at once', async () => {
    // Prepare
    const redis = await startRedis();
    afterThisTest(() => redis.stop());
    const a = await hubOn(redis.url, 'hub-a');
    const b = await hubOn(redis.url, 'hub-b');

    // Execute: the heartbeats carry each hub's URL once it listens.
    const both = await waitFor(async () => {
      const hubs = await list(a.url);
      return hubs.length === 2 && hubs.every((h) => h.facts.url) && hubs;
    }, 'both hubs with their URLs');
    await b.hub.close();
    const after = await list(a.url);

    // Assert
    expect(both.map((h) => [h.id, h.facts.url])).toEqual([
      ['hub-a', a.url],
      ['hub-b', b.url],
    ]);
    expect(await list(b.url).catch(() => 'closed')).toBe('closed');
    expect(after.map((h) => h.id)).toEqual(['hub-a']);
  });

  it('a hub without Redis lists itself', async () => {
    const { url } = await startTestHub();
    expect((await list(url)).map((h) => h.facts.url)).toEqual([url]);
  });
});
