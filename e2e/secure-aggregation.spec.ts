import { expect, test } from '@playwright/test';
import { federatedLength } from '../packages/core/src/learn/federated-layout.js';
import { MNIST_MLP } from '../packages/core/src/model/spec.js';
import { hkdf, maskWords } from '../packages/core/src/secagg/crypto.js';
import { SECAGG_EXTRAS } from '../packages/core/src/secagg/messages.js';
import { frameByteLength } from '../packages/core/src/wire/codec.js';
import { runDetail, runIdOf, signIn, startRunFromForm, waitForRun } from './dashboard.js';
import { openShardTabs, participantIds, recordSent } from './participants.js';
import { trainerIndices } from './scenario.js';

const scenario = { name: 'shards', participants: 24, seed: 1 } as const;
const hex = (text: string) => Uint8Array.from(text.match(/../g)!, (b) => parseInt(b, 16));
const toHex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

test('a tab derives the keys and masks the standards give, and the same masks as the hub (Node)', async ({ page }) => {
  await page.goto('/?backend=cpu');
  await page.waitForFunction(() => window.tabula?.secagg !== undefined);
  const nistKey = '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4';

  // Execute: the page's own bundled core, in Chromium's WebCrypto.
  const browser = await page.evaluate(
    async ({ nistKey }) => {
      const s = window.tabula.secagg;
      const alice = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
      const bob = '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb';
      const bobPublic = await s.publicKey(bob);
      return {
        provider: await s.provider(),
        alicePublic: await s.publicKey(alice),
        bobPublic,
        shared: await s.sharedSecret(alice, bobPublic),
        okm: await s.hkdf('0b'.repeat(22), '000102030405060708090a0b0c', 'f0f1f2f3f4f5f6f7f8f9', 42),
        mask: await s.maskWords(nistKey, 1024),
      };
    },
    { nistKey },
  );

  // Assert: RFC 7748 §6.1, RFC 5869 A.1, and the mask generator word for word as Node's (the hub's) expands it.
  // Chromium's WebCrypto has X25519: the fallback is for browsers without it (checked in Node's tests).
  expect(browser.provider).toBe('webcrypto');
  expect(browser.alicePublic).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  expect(browser.bobPublic).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  expect(browser.shared).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  expect(browser.okm).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  expect(toHex(await hkdf(hex('0b'.repeat(22)), hex('000102030405060708090a0b0c'), hex('f0f1f2f3f4f5f6f7f8f9'), 42))).toBe(browser.okm);
  expect(browser.mask).toEqual(Array.from(await maskWords(hex(nistKey), 1024)));
});

test('a secure run: six tabs, one closes mid-protocol, the run completes, and a tab uploads only masked frames', async ({
  browser,
  baseURL,
}) => {
  const context = await browser.newContext();
  const tabs = await openShardTabs(context, scenario, trainerIndices(scenario, 6));
  const ids = await participantIds(tabs);
  const [watched] = tabs;
  // The last tab closes the moment the hub asks it for its masked input: after it shared its keys, mid-protocol. Its
  // socket passes through this route, which sees the hub's request before the page does.
  const leaving = tabs[5]!;
  let closing: Promise<void> | null = null;
  await leaving.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => server.send(message));
    server.onMessage((message) => {
      if (typeof message === 'string' && message.includes('"secagg:mask"')) closing ??= leaving.close();
      else if (!closing) ws.send(message);
    });
  });
  await leaving.reload();
  await expect(leaving.getByTestId('participant-state')).toHaveAttribute('data-state', 'waiting', { timeout: 60_000 });
  const sent = recordSent(watched!);
  await watched!.reload();
  await expect(watched!.getByTestId('participant-state')).toHaveAttribute('data-state', 'waiting', { timeout: 60_000 });
  // Every line the watched tab's state showed, to find the secure aggregation stages among them.
  await watched!.evaluate(() => {
    const line = document.querySelector('[data-testid="participant-state"]')!;
    const seen: string[] = [];
    (window as unknown as { seenStates: string[] }).seenStates = seen;
    new MutationObserver(() => seen.push(line.textContent ?? '')).observe(line, { childList: true, characterData: true, subtree: true });
  });
  const dashboard = await context.newPage();
  await signIn(dashboard);

  // Started from the dashboard's form, its secure aggregation fieldset included.
  await startRunFromForm(dashboard, {
    Algorithm: 'reptile',
    Scenario: 'shards',
    'Simulated participants': String(scenario.participants),
    Rounds: '2',
    'Participants per round': '6',
    'Minimum participants': '3',
    'Secure aggregation': 'yes',
    'Largest group': '6',
    'Examples of weight 1': '2500',
  });
  const id = await runIdOf(baseURL!);
  expect((await runDetail(baseURL!, id)).config).toMatchObject({ secureAggregation: { maxGroup: 6, maxExamples: 2500, clip: 1 } });
  const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running');

  // The run completed: round 1 without the closed tab, whose dropout the record shows at the mask stage.
  expect(run.status).toBe('completed');
  const completed = run.rounds.filter((r) => r.status === 'completed');
  expect(completed.map((r) => r.round)).toEqual([1, 2]);
  const first = completed[0]!;
  expect([...first.participants].sort()).toEqual(ids.slice(0, 5).sort());
  expect(first.failures.map((f) => f.participantId)).toEqual([ids[5]]);
  expect(first.secureAggregation!.stages.map((s) => `${s.stage} ${s.answered}/${s.asked}`)).toEqual([
    'advertise 6/6',
    'share 6/6',
    'mask 5/6',
    'unmask 5/5',
  ]);
  expect(first.metrics.loss).not.toBeNull();
  await expect(dashboard.getByTestId('rounds').locator('tr[data-round="1"]')).toContainText(
    'advertise 6/6 · share 6/6 · mask 5/6 · unmask 5/5',
  );

  // The watched tab said which stage it was in.
  const seen = await watched!.evaluate(() => (window as unknown as { seenStates: string[] }).seenStates);
  expect(seen.some((text) => text.startsWith('secure aggregation: your update is masked — stage 3 of 4'))).toBe(true);

  sent.collect();
  const { text: sentText, binary: sentBinary } = sent;
  // Binary: one masked frame per round, of the parameters and the extras as 32-bit words, in one segment.
  const maskedBytes = frameByteLength(federatedLength(MNIST_MLP, 'reptile') + SECAGG_EXTRAS, 'float32', 1, id);
  expect(sentBinary).toEqual([maskedBytes, maskedBytes]);
  // Text: no update in the clear, and nothing names its example count or metrics.
  const events = sentText.map((text) => /^4[25]\d*-?\d*\["([^"]+)"/.exec(text)?.[1]).filter((e) => e !== undefined);
  expect(events.filter((e) => e === 'update:ready')).toHaveLength(2);
  expect(events.some((e) => e === 'update:submit' || e === 'eval:submit')).toBe(false);
  for (const text of sentText)
    expect(text, text.slice(0, 200)).not.toMatch(/numExamples|testExamples|"loss"|"evaluation"|"before"|"after"|trainMs/);
  await context.close();
});
