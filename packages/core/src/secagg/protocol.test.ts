import { describe, expect, it } from 'vitest';
import { seededRandomSource } from '../privacy/random-source.js';
import { SecAggAggregator, SecAggError, SecAggParticipant, neighbourhoods, type SecAggSession, type UnmaskShares } from './protocol.js';
import { useX25519 } from './crypto.js';
import { decodeTotal, quantise, ringScales, secureMean } from './quantize.js';

const session = (words: number, threshold = 3): SecAggSession => ({ runId: 'run-1', round: 4, sessionId: 's-1', threshold, words });

/**
 * Runs the four stages in process. `leaveAfterShare`: tabs that share, then never send a masked input (a closed
 * socket); `silentAtUnmask`: tabs that send their masked input, then never answer the unmask stage;
 * `beforeAdvertise`: runs just before each tab makes its keys.
 */
async function secureSum(
  s: SecAggSession,
  inputs: readonly Uint32Array[],
  options: {
    leaveAfterShare?: readonly number[];
    silentAtUnmask?: readonly number[];
    beforeAdvertise?: (tab: SecAggParticipant) => void;
  } = {},
): Promise<{ total: Uint32Array; masked: Map<number, Uint32Array>; hub: SecAggAggregator; tabs: SecAggParticipant[] }> {
  const tabs = inputs.map((x, index) => new SecAggParticipant(s, index, x));
  const hub = new SecAggAggregator(s);
  for (const tab of tabs) {
    options.beforeAdvertise?.(tab);
    hub.advertise(tab.index, await tab.advertise());
  }
  const roster = hub.roster();
  for (const tab of tabs) hub.acceptShares(tab.index, await tab.share(roster));
  const masked = new Map<number, Uint32Array>();
  for (const tab of tabs) {
    if (options.leaveAfterShare?.includes(tab.index)) continue;
    const { received, alive } = hub.sharesFor(tab.index);
    const y = await tab.mask(received, alive);
    masked.set(tab.index, y);
    hub.acceptMasked(tab.index, y);
  }
  const { survivors } = hub.unmaskRequest();
  const answers: UnmaskShares[] = [];
  for (const tab of tabs) {
    if (!survivors.includes(tab.index) || options.silentAtUnmask?.includes(tab.index)) continue;
    const asked = hub.unmaskRequest(tab.index);
    answers.push(tab.unmask(asked.survivors, asked.dropped));
  }
  return { total: await hub.unmask(answers), masked, hub, tabs };
}

// Five tabs' deltas of three parameters and their example counts (literal numbers), weighted as FedAvg does.
const DELTAS = [
  [0.5, -0.25, 0.125],
  [-0.1, 0.2, 0.3],
  [1.5, 0, -2],
  [0.05, 0.05, 0.05],
  [-0.75, 0.6, 0.01],
].map((d) => Float32Array.from(d));
const EXAMPLES = [10, 30, 5, 50, 25];
const MAX_EXAMPLES = 50;
const CLIP = 1;

function quantisedInputs(scales: ReturnType<typeof ringScales>) {
  return DELTAS.map((delta, u) => {
    const w = EXAMPLES[u]! / MAX_EXAMPLES;
    return quantise(delta, w, [w], CLIP, scales, seededRandomSource(100 + u)).words;
  });
}

/** Example-weighted mean of the tabs `who`, with each weighted coordinate clamped to ±CLIP as the tabs do. */
function weightedMean(who: readonly number[]): number[] {
  const total = who.reduce((a, u) => a + EXAMPLES[u]! / MAX_EXAMPLES, 0);
  return [0, 1, 2].map(
    (i) => who.reduce((a, u) => a + Math.max(-CLIP, Math.min(CLIP, (EXAMPLES[u]! / MAX_EXAMPLES) * DELTAS[u]![i]!)), 0) / total,
  );
}

describe('secure aggregation: the hub learns the sum', () => {
  const scales = ringScales(200, CLIP);

  it('five tabs with unequal example counts: exactly the example-weighted mean (to the quantisation step)', async () => {
    // Execute
    const { total } = await secureSum(session(4), quantisedInputs(scales));
    const { values, extras } = decodeTotal(total, 3, scales);
    // Assert: Σw = 2.4, and Σ w·Δ / Σ w is the weighted mean; each tab's rounding is at most one step (2^-23).
    expect(extras[0]).toBeCloseTo(2.4, 5);
    const mean = Array.from(values, (v) => v / extras[0]!);
    weightedMean([0, 1, 2, 3, 4]).forEach((m, i) => expect(Math.abs(mean[i]! - m)).toBeLessThan(5 / scales.value));
  });

  it('a tab that closes after the share stage: exactly the weighted mean of the other four', async () => {
    const { total } = await secureSum(session(4), quantisedInputs(scales), { leaveAfterShare: [2] });
    const { values, extras } = decodeTotal(total, 3, scales);
    expect(extras[0]).toBeCloseTo(2.3, 5);
    const mean = Array.from(values, (v) => v / extras[0]!);
    weightedMean([0, 1, 3, 4]).forEach((m, i) => expect(Math.abs(mean[i]! - m)).toBeLessThan(5 / scales.value));
  });

  it('SecAgg+: on a 4-regular graph of 12 tabs each tab shares with and masks against its 4 neighbours, and a dropout still sums exactly', async () => {
    // Prepare: 12 tabs of 3 values (tab u sends u/20 first, within the clip), degree 4 from the session's seed.
    const s: SecAggSession = { ...session(4, 3), graph: { degree: 4, seed: 9 } };
    const inputs = Array.from(
      { length: 12 },
      (_, u) => quantise(Float32Array.of(u / 20, 0, 0), 1, [1], CLIP, scales, seededRandomSource(u)).words,
    );
    const graph = neighbourhoods(
      inputs.map((_, u) => u),
      s,
    );
    // Execute
    const { total } = await secureSum(s, inputs, { leaveAfterShare: [5] });
    const { values, extras } = decodeTotal(total, 3, scales);
    // Assert: symmetric and 4-regular; the sum of the 11 survivors (0 + 0.05 + … + 0.55 − 0.25 = 3.05), weight 11.
    for (const [u, near] of graph) {
      expect(near.size).toBe(4);
      for (const v of near) expect(graph.get(v)!.has(u)).toBe(true);
    }
    expect(values[0]).toBeCloseTo(3.05, 5);
    expect(extras[0]).toBeCloseTo(11, 5);
  });

  it('SecAgg+: a tab needs only its neighbours’ keys, and refuses a roster that lacks one of them', async () => {
    // Prepare: 8 tabs on a 2-regular graph.
    const s = { ...session(4, 2), graph: { degree: 2, seed: 5 } };
    const tabs = Array.from({ length: 8 }, (_, u) => new SecAggParticipant(s, u, new Uint32Array(4)));
    const hub = new SecAggAggregator(s);
    for (const tab of tabs) hub.advertise(tab.index, await tab.advertise());
    const group = hub.roster().map((r) => r.index);
    const near = neighbourhoods(group, s).get(0)!;
    const own = (v: number) => hub.roster().find((r) => r.index === v)!;
    // Execute / Assert
    const sealed = await tabs[0]!.share([0, ...near].map(own), group);
    expect(sealed.map((m) => m.to).sort()).toEqual([...near].sort());
    await expect(tabs[1]!.share([own(1)], group)).rejects.toThrow(/the roster lacks the keys of neighbours/);
  });

  it('a tab that leaves after sending its masked input is still counted: the others reveal its self-mask', async () => {
    const { total } = await secureSum(session(4), quantisedInputs(scales), { silentAtUnmask: [1] });
    const { extras } = decodeTotal(total, 3, scales);
    expect(extras[0]).toBeCloseTo(2.4, 5);
  });
});

describe('secure aggregation across browsers', () => {
  it('tabs on WebCrypto’s X25519 and tabs on the @noble/curves fallback mask against each other: the sum is exact', async () => {
    // Prepare: tabs 0-2 derive their keys with the fallback (a browser without WebCrypto X25519), 3-4 with WebCrypto.
    const s = session(8, 3);
    const inputs = [0, 1, 2, 3, 4].map((u) => Uint32Array.from({ length: 8 }, (_, i) => 1000 * u + i));
    // Execute: tab 4 leaves after sharing, so the hub rebuilds a key made on one platform to unmask the others'.
    let total: Uint32Array;
    try {
      ({ total } = await secureSum(s, inputs, {
        leaveAfterShare: [4],
        beforeAdvertise: (tab) => useX25519(tab.index < 3 ? 'noble' : 'auto'),
      }));
    } finally {
      useX25519('auto');
    }
    // Assert
    expect([...total]).toEqual(Array.from({ length: 8 }, (_, i) => (0 + 1000 + 2000 + 3000 + 4 * i) >>> 0));
  });
});

describe('secure aggregation: what the hub does not learn', () => {
  const scales = ringScales(200, CLIP);

  it('a masked input looks uniform and differs from the quantised input in essentially every word', async () => {
    // Prepare: 4,096 words of a small, very non-uniform input (mostly zeros).
    const words = 4096;
    const inputs = Array.from(
      { length: 3 },
      (_, u) => quantise(new Float32Array(words - 1), 1, [1], CLIP, scales, seededRandomSource(u)).words,
    );
    // Execute
    const { masked } = await secureSum(session(words, 2), inputs);
    const y = masked.get(0)!;
    // Assert: the top byte's 256 values are uniform (χ² with 255 df stays below 330.5 with probability 0.999),
    // and nearly every word moved.
    const counts = new Array<number>(256).fill(0);
    for (const w of y) counts[w >>> 24]! += 1;
    const expected = words / 256;
    const chi2 = counts.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(330.5);
    const same = y.filter((w, i) => w === inputs[0]![i]).length;
    expect(same).toBeLessThan(5);
  });

  it('after unmasking, the hub object holds no secret of any tab: no seed, no private key, the dropped tab’s included', async () => {
    // Prepare: four tabs; tab 3 leaves after sharing, so the hub rebuilds its mask key to remove its pairwise masks.
    const inputs = [0, 1, 2, 3].map((u) => new Uint32Array(64).fill(u));
    // Execute
    const { total, hub, tabs } = await secureSum(session(64, 3), inputs, { leaveAfterShare: [3] });
    // Assert: the sum is right, and every byte the hub keeps (keys it was sent, sealed shares, the running sum) is free
    // of every tab's 32-byte secrets.
    expect([...total]).toEqual(new Array<number>(64).fill(0 + 1 + 2));
    const hexOf = (bytes: ArrayBufferView) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
    const kept: string[] = [];
    const visit = (value: unknown, depth: number): void => {
      if (depth > 6 || value === null || typeof value !== 'object') return;
      if (ArrayBuffer.isView(value)) return void kept.push(hexOf(value));
      for (const inner of value instanceof Map ? [...value.keys(), ...value.values()] : Object.values(value)) visit(inner, depth + 1);
    };
    visit(hub, 0);
    expect(kept.length).toBeGreaterThan(10);
    const secrets = tabs.flatMap((tab) => {
      const own = tab as unknown as { seed: Uint8Array; enc: { secret: Uint8Array }; maskPair: { secret: Uint8Array } };
      return [own.seed, own.enc.secret, own.maskPair.secret].map(hexOf);
    });
    expect(secrets).toHaveLength(12);
    for (const secret of secrets) expect(kept.some((bytes) => bytes.includes(secret))).toBe(false);
  });

  it('a tab asked for both secrets of one peer refuses, at once or across calls', async () => {
    const s = session(4, 2);
    const tabs = [0, 1, 2].map((u) => new SecAggParticipant(s, u, new Uint32Array(4)));
    const hub = new SecAggAggregator(s);
    for (const tab of tabs) hub.advertise(tab.index, await tab.advertise());
    for (const tab of tabs) hub.acceptShares(tab.index, await tab.share(hub.roster()));
    for (const tab of tabs) {
      const { received, alive } = hub.sharesFor(tab.index);
      await tab.mask(received, alive);
    }
    expect(() => tabs[0]!.unmask([0, 1, 2], [2])).toThrow(SecAggError);
    tabs[0]!.unmask([0, 1], []);
    expect(() => tabs[0]!.unmask([0, 2], [1])).toThrow(/already given/);
  });

  it('fewer shares than the threshold rebuild nothing: the unmask stage refuses', async () => {
    const s = session(4, 3);
    const inputs = [0, 1, 2, 3].map(() => new Uint32Array(4));
    const tabs = inputs.map((x, u) => new SecAggParticipant(s, u, x));
    const hub = new SecAggAggregator(s);
    for (const tab of tabs) hub.advertise(tab.index, await tab.advertise());
    for (const tab of tabs) hub.acceptShares(tab.index, await tab.share(hub.roster()));
    for (const tab of tabs) {
      const { received, alive } = hub.sharesFor(tab.index);
      hub.acceptMasked(tab.index, await tab.mask(received, alive));
    }
    const { survivors, dropped } = hub.unmaskRequest();
    const answers = tabs.slice(0, 2).map((tab) => tab.unmask(survivors, dropped));
    await expect(hub.unmask(answers)).rejects.toThrow(/threshold is 3/);
  });
});

describe('secure aggregation: decoding the total', () => {
  const scales = ringScales(200, CLIP);

  it('gives the weighted mean and the extras, and refuses a total weight no honest tabs could send', async () => {
    // Prepare: the five tabs, then the same with tab 3's weight slot forged to a huge ring element.
    const inputs = quantisedInputs(scales);
    const forged = inputs.map((x) => Uint32Array.from(x));
    forged[3]![3] = 0x7fff0000;
    // Execute
    const honest = secureMean((await secureSum(session(4), inputs)).total, 3, scales, 5, MAX_EXAMPLES);
    const refused = secureSum(session(4), forged).then(({ total }) => secureMean(total, 3, scales, 5, MAX_EXAMPLES));
    // Assert
    expect(honest.totalWeight).toBeCloseTo(2.4, 5);
    weightedMean([0, 1, 2, 3, 4]).forEach((m, i) => expect(Math.abs(honest.mean[i]! - m)).toBeLessThan(5 / scales.value));
    await expect(refused).rejects.toThrow(/total weight .* is outside \[0.1, 5\] for 5 survivors/);
  });
});
