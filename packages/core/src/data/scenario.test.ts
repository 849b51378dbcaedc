import { describe, expect, it } from 'vitest';
import type { Examples, ParticipantData } from './dataset.js';
import { loadMnist } from './mnist-node.js';
import { createRotation, type Rotation } from './rotate.js';
import {
  ROTATION_ANGLES,
  SINUSOID,
  createScenario,
  fewShotSizes,
  isHeldOut,
  isValidation,
  sinusoidTask,
  splitSizes,
  validationIndices,
  type ScenarioName,
} from './scenario.js';

const mnist = loadMnist();
const F = 784;

// Every asset image is unique (checked below), so a participant's image tells which digit it is.
const digitOf = new Map<string, number>();
for (let i = 0; i < mnist.count; i++) digitOf.set(key(mnist.pixels.subarray(i * F, (i + 1) * F)), i);

function key(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

const unrotations = new Map<number, Rotation>();
function unrotate(degrees: number): Rotation {
  const rotation = unrotations.get(degrees) ?? createRotation(28, 28, -degrees);
  unrotations.set(degrees, rotation);
  return rotation;
}

/** Asset indices of the examples, undoing the participant's rotation (right angles are exact). */
/** The asset digits of `examples`; their labels must be the digits' own unless `relabelled` (labelPermutations). */
function digits(examples: Examples, degrees = 0, relabelled = false): number[] {
  const out: number[] = [];
  for (let j = 0; j < examples.count; j++) {
    let image = examples.x.subarray(j * F, (j + 1) * F);
    if (degrees) {
      const back = new Float32Array(F);
      unrotate(degrees).apply(image, 0, back, 0);
      image = back;
    }
    const bytes = Uint8Array.from(image, (v) => Math.round(v * 255));
    const digit = digitOf.get(key(bytes));
    if (digit === undefined) throw new Error(`example ${j} is no asset digit`);
    if (!relabelled) expect(mnist.labels[digit]).toBe(examples.y[j]);
    out.push(digit);
  }
  return out;
}

/** Exact equality of two participants; vitest's deep equality is very slow on large typed arrays. */
function same(a: ParticipantData, b: ParticipantData): boolean {
  const bytes = (v: Float32Array): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const sets = (p: ParticipantData): Examples[] => [p.support, p.query, p.test];
  return (
    a.index === b.index &&
    a.heldOut === b.heldOut &&
    a.description === b.description &&
    sets(a).every((set, k) => {
      const other = sets(b)[k] as Examples;
      return set.count === other.count && bytes(set.x).equals(bytes(other.x)) && bytes(set.y).equals(bytes(other.y));
    })
  );
}

function angleOf(p: ParticipantData): number {
  const match = /^rotated (\d+)°/.exec(p.description);
  if (!match) throw new Error(`no angle in ${p.description}`);
  return Number(match[1]);
}

const MNIST_SCENARIOS: ScenarioName[] = ['iid', 'shards', 'dirichlet', 'rotated'];

describe('createScenario (MNIST)', () => {
  it('has unique asset images to test with', () => {
    expect(digitOf.size).toBe(mnist.count);
  });

  it.each(MNIST_SCENARIOS)('%s: is deterministic, independent of build order, and seed-dependent', (name) => {
    const a = createScenario({ name, participants: 20, seed: 5 }, mnist);
    const b = createScenario({ name, participants: 20, seed: 5 }, mnist);
    const c = createScenario({ name, participants: 20, seed: 6 }, mnist);
    const late = b.participant(19); // built first here, last below
    for (let i = 0; i < 20; i++) expect(same(a.participant(i), b.participant(i))).toBe(true);
    expect(same(a.participant(19), late)).toBe(true);
    expect(a.heldOut).toEqual(b.heldOut);
    expect(same(c.participant(0), a.participant(0))).toBe(false);
    expect(same(a.participant(1), a.participant(0))).toBe(false);
    expect(a.participant(3)).toBe(a.participant(3)); // cached
  });

  it.each(MNIST_SCENARIOS)('%s: splits are non-empty, about 50/25/25, and no digit is held twice', (name) => {
    const scenario = createScenario({ name, participants: 40, seed: 2 }, mnist);
    const seen = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const p = scenario.participant(i);
      const degrees = name === 'rotated' ? angleOf(p) : 0;
      const n = p.support.count + p.query.count + p.test.count;
      expect(p.index).toBe(i);
      expect(p.support.count).toBe(Math.round(n / 2));
      expect(p.query.count).toBeGreaterThan(0);
      expect(p.test.count).toBeGreaterThan(0);
      expect(Math.abs(p.query.count - p.test.count)).toBeLessThanOrEqual(1);
      for (const set of [p.support, p.query, p.test]) {
        expect(set.x.length).toBe(set.count * F);
        expect(set.y.length).toBe(set.count);
        for (const digit of digits(set, degrees)) {
          expect(seen.has(digit)).toBe(false);
          seen.add(digit);
        }
      }
      const labels = [...new Set([...p.support.y, ...p.query.y, ...p.test.y])].sort((x, y) => x - y);
      expect(p.description).toContain(`labels ${labels.join(',')} · ${n} examples`);
    }
    expect(seen.size).toBeGreaterThan(mnist.count * 0.95);
  });

  it('scales inputs to [0, 1] with the MNIST shape', () => {
    const scenario = createScenario({ name: 'iid', participants: 10, seed: 1 }, mnist);
    expect(scenario.shape).toEqual({ kind: 'classification', inputShape: [28, 28, 1], outputs: 10 });
    const { x } = scenario.participant(0).support;
    expect(x.reduce((a, b) => Math.min(a, b), Infinity)).toBe(0);
    expect(x.reduce((a, b) => Math.max(a, b), -Infinity)).toBe(1);
    expect(x.some((v) => v > 0 && v < 1)).toBe(true);
  });

  it('holds out max(1, round(10%)) participants by default, or as many as asked, and flags them', () => {
    for (const [participants, heldOut, expected] of [
      [10, undefined, 1],
      [4, undefined, 1],
      [200, undefined, 20],
      [1, undefined, 0],
      [30, 7, 7],
      [30, 0, 0],
    ] as const) {
      const scenario = createScenario({ name: 'iid', participants, seed: 3, ...(heldOut === undefined ? {} : { heldOut }) }, mnist);
      expect(scenario.heldOut.length).toBe(expected);
      expect(scenario.config.heldOut).toBe(expected);
      expect(new Set(scenario.heldOut).size).toBe(expected);
      for (let i = 0; i < participants; i++) expect(scenario.participant(i).heldOut).toBe(scenario.heldOut.includes(i));
    }
    // a seeded choice, not simply the last indices
    const a = createScenario({ name: 'iid', participants: 100, seed: 1 }, mnist).heldOut;
    const b = createScenario({ name: 'iid', participants: 100, seed: 2 }, mnist).heldOut;
    expect(a).not.toEqual(b);
    expect(a).not.toEqual(Array.from({ length: 10 }, (_, i) => 90 + i));
  });

  it('honours examplesPerParticipant and the split fractions', () => {
    const scenario = createScenario(
      { name: 'dirichlet', participants: 10, seed: 1, examplesPerParticipant: 40, supportFraction: 0.2, queryFraction: 0.3 },
      mnist,
    );
    const p = scenario.participant(4);
    expect([p.support.count, p.query.count, p.test.count]).toEqual([8, 12, 20]);
    expect(scenario.config.dirichletAlpha).toBe(0.5);
  });

  it('gives each of 200 participants its own digits, and 10,000 participants at least 3 each', () => {
    const many = createScenario({ name: 'shards', participants: 200, seed: 1 }, mnist);
    for (let i = 0; i < 200; i++) {
      const p = many.participant(i);
      expect(p.support.count + p.query.count + p.test.count).toBeGreaterThanOrEqual(45);
      expect(new Set([...p.support.y, ...p.query.y, ...p.test.y]).size).toBeLessThanOrEqual(2);
    }
    const crowd = createScenario({ name: 'dirichlet', participants: 10_000, seed: 1 }, mnist);
    for (const i of [0, 5000, 9999]) {
      const p = crowd.participant(i);
      expect([p.support.count, p.query.count, p.test.count]).toEqual([1, 1, 1]);
    }
  });

  it('builds a participant of 1,000 digits in milliseconds', () => {
    const scenario = createScenario({ name: 'rotated', participants: 10, seed: 8 }, mnist);
    scenario.participant(0); // partition and JIT warm-up
    const start = performance.now();
    for (let i = 1; i < 10; i++) scenario.participant(i);
    expect((performance.now() - start) / 9).toBeLessThan(100);
  });
});

describe('rotated scenario', () => {
  it('rotates every digit of a participant by its group angle, keeping its ink', () => {
    const scenario = createScenario({ name: 'rotated', participants: 40, seed: 4 }, mnist);
    const angles = new Map<number, number>();
    for (let i = 0; i < 40; i++) {
      const p = scenario.participant(i);
      const degrees = angleOf(p);
      expect(ROTATION_ANGLES).toContain(degrees);
      angles.set(degrees, (angles.get(degrees) ?? 0) + 1);
      const originals = digits(p.support, degrees); // throws unless un-rotating gives back an asset digit
      let totalMoved = 0;
      let totalMass = 0;
      originals.forEach((digit, j) => {
        const image = p.support.x.subarray(j * F, (j + 1) * F);
        const original = Float32Array.from(mnist.pixels.subarray(digit * F, (digit + 1) * F), (v) => v / 255);
        let mass = 0;
        let originalMass = 0;
        let moved = 0;
        for (let k = 0; k < F; k++) {
          mass += image[k] as number;
          originalMass += original[k] as number;
          moved += Math.abs((image[k] as number) - (original[k] as number));
        }
        expect(Math.abs(mass - originalMass)).toBeLessThan(originalMass * 0.02);
        if (degrees === 0) expect(moved).toBe(0);
        else expect(moved).toBeGreaterThan(0);
        totalMoved += moved;
        totalMass += originalMass;
      });
      // near-symmetric digits (0, 8 at 180°) move little; the participant's digits as a whole move a lot
      if (degrees !== 0) expect(totalMoved).toBeGreaterThan(totalMass * 0.5);
    }
    // the four groups are balanced: 10 participants each
    expect([...angles.values()]).toEqual([10, 10, 10, 10]);
    // and the held-out participants cover several angles too
    expect(new Set(scenario.heldOut.map((i) => angleOf(scenario.participant(i)))).size).toBe(4);
  });

  it('adds label skew (dirichlet, alpha 1 by default)', () => {
    const scenario = createScenario({ name: 'rotated', participants: 20, seed: 4 }, mnist);
    expect(scenario.config.dirichletAlpha).toBe(1);
    let topShare = 0;
    for (let i = 0; i < 20; i++) {
      const y = [...scenario.participant(i).support.y, ...scenario.participant(i).query.y, ...scenario.participant(i).test.y];
      const counts = new Array<number>(10).fill(0);
      for (const label of y) counts[label] = (counts[label] ?? 0) + 1;
      topShare += Math.max(...counts) / y.length / 20;
    }
    expect(topShare).toBeGreaterThan(0.2); // iid would be ~0.11
  });
});

describe('sinusoid scenario', () => {
  it('draws each task as y = A·sin(x − φ) with the paper ranges', () => {
    const scenario = createScenario({ name: 'sinusoid', participants: 50, seed: 13 });
    expect(scenario.shape).toEqual({ kind: 'regression', inputShape: [1], outputs: 1 });
    for (let i = 0; i < 50; i++) {
      const p = scenario.participant(i);
      const { amplitude, phase } = sinusoidTask(i, 13);
      expect(p.description).toBe(`A=${amplitude.toFixed(2)} φ=${phase.toFixed(2)}`);
      expect([p.support.count, p.query.count, p.test.count]).toEqual([10, 10, 100]);
      for (const set of [p.support, p.query, p.test]) {
        for (let j = 0; j < set.count; j++) {
          const x = set.x[j] as number;
          expect(x).toBeGreaterThanOrEqual(-5);
          expect(x).toBeLessThanOrEqual(5);
          expect(Math.abs((set.y[j] as number) - amplitude * Math.sin(x - phase))).toBeLessThan(1e-6);
        }
      }
      // fresh x for each split
      expect(p.test.x.slice(0, 10)).not.toEqual(p.support.x);
    }
  });

  it('keeps amplitude in [0.1, 5] and phase in [0, π], spread over the range', () => {
    const tasks = Array.from({ length: 2000 }, (_, i) => sinusoidTask(i, 99));
    const amplitudes = tasks.map((t) => t.amplitude);
    const phases = tasks.map((t) => t.phase);
    expect(Math.min(...amplitudes)).toBeGreaterThanOrEqual(SINUSOID.amplitude[0]);
    expect(Math.max(...amplitudes)).toBeLessThanOrEqual(SINUSOID.amplitude[1]);
    expect(Math.min(...phases)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...phases)).toBeLessThanOrEqual(Math.PI);
    expect(Math.min(...amplitudes)).toBeLessThan(0.2);
    expect(Math.max(...amplitudes)).toBeGreaterThan(4.9);
    expect(Math.max(...phases)).toBeGreaterThan(3.1);
    expect(sinusoidTask(3, 99)).toEqual(tasks[3]);
    expect(sinusoidTask(3, 100)).not.toEqual(tasks[3]);
  });

  it('honours kShot and stays deterministic without MNIST', () => {
    const a = createScenario({ name: 'sinusoid', participants: 5, seed: 1, kShot: 5 });
    const b = createScenario({ name: 'sinusoid', participants: 5, seed: 1, kShot: 5 });
    expect(a.participant(2).support.count).toBe(5);
    expect(a.participant(2).query.count).toBe(5);
    expect(same(a.participant(2), b.participant(2))).toBe(true);
    expect(same(a.participant(2), a.participant(3))).toBe(false);
    expect(a.config.examplesPerParticipant).toBe(110);
  });
});

describe('scenario validation', () => {
  it('needs MNIST for the digit scenarios', () => {
    expect(() => createScenario({ name: 'shards', participants: 10, seed: 1 })).toThrow(/scenario 'shards' needs the MNIST asset/);
  });

  it('rejects bad configs with specific messages', () => {
    const base = { participants: 10, seed: 1 } as const;
    expect(() => createScenario({ ...base, name: 'moons' as ScenarioName }, mnist)).toThrow(/unknown scenario "moons"/);
    expect(() => createScenario({ ...base, name: 'iid', participants: 0 }, mnist)).toThrow(/participants must be a positive integer/);
    expect(() => createScenario({ ...base, name: 'iid', seed: 1.5 }, mnist)).toThrow(/seed must be an integer/);
    expect(() => createScenario({ ...base, name: 'iid', heldOut: 11 }, mnist)).toThrow(/heldOut must be an integer in \[0, 10\]/);
    expect(() => createScenario({ ...base, name: 'iid', supportFraction: 0.8 }, mnist)).toThrow(/must leave a test set/);
    expect(() => createScenario({ ...base, name: 'iid', queryFraction: 0 }, mnist)).toThrow(/queryFraction must be in \(0, 1\)/);
    expect(() => createScenario({ ...base, name: 'dirichlet', dirichletAlpha: -1 }, mnist)).toThrow(/dirichletAlpha must be a positive/);
    expect(() => createScenario({ ...base, name: 'iid', examplesPerParticipant: 2 }, mnist)).toThrow(
      /examplesPerParticipant must be an integer >= 3/,
    );
    expect(() => createScenario({ ...base, name: 'sinusoid', kShot: 0 })).toThrow(/kShot must be a positive integer/);
    expect(() => createScenario({ ...base, name: 'iid' }, mnist).participant(10)).toThrow(/participant index 10 is outside 0..9/);
  });

  it('splits small sets so that every part is non-empty', () => {
    expect(splitSizes(3, 0.5, 0.25)).toEqual([1, 1, 1]);
    expect(splitSizes(4, 0.5, 0.25)).toEqual([2, 1, 1]);
    expect(splitSizes(1000, 0.5, 0.25)).toEqual([500, 250, 250]);
    expect(splitSizes(10, 0.9, 0.05)).toEqual([8, 1, 1]);
    expect(() => splitSizes(2, 0.5, 0.25)).toThrow(/cannot fill/);
  });
});

describe('few-shot MNIST (supportShots)', () => {
  it('gives every participant of every MNIST scenario exactly k support digits; query and test split the rest', () => {
    for (const name of MNIST_SCENARIOS) {
      // Prepare: 40 participants of 250 digits, 10 shots each (the few-shot pilot's size).
      const scenario = createScenario({ name, participants: 40, seed: 2, supportShots: 10 }, mnist);
      expect(scenario.config.supportShots).toBe(10);
      for (const i of [0, 17, 39]) {
        // Execute
        const p = scenario.participant(i);
        // Assert: 10 support digits, 120 + 120 for query and test (shards may give a few digits fewer), all distinct.
        const n = p.support.count + p.query.count + p.test.count;
        expect([p.support.count, p.query.count, p.test.count]).toEqual(fewShotSizes(n, 10));
        expect(n).toBeGreaterThan(200);
        const degrees = name === 'rotated' ? angleOf(p) : 0;
        const all = [p.support, p.query, p.test].flatMap((set) => digits(set, degrees));
        expect(new Set(all).size).toBe(n);
      }
    }
  });

  it('keeps the partition: the same digits as without supportShots, only split differently', () => {
    const plain = createScenario({ name: 'dirichlet', participants: 20, seed: 4 }, mnist).participant(5);
    const few = createScenario({ name: 'dirichlet', participants: 20, seed: 4, supportShots: 5 }, mnist).participant(5);
    const sorted = (p: ParticipantData) => [p.support, p.query, p.test].flatMap((set) => digits(set)).sort((a, b) => a - b);
    expect(sorted(few)).toEqual(sorted(plain));
    expect(few.support.count).toBe(5);
  });

  it('splits k shots, then query and test evenly (test takes the odd one)', () => {
    expect(fewShotSizes(250, 10)).toEqual([10, 120, 120]);
    expect(fewShotSizes(100, 5)).toEqual([5, 47, 48]);
    expect(fewShotSizes(3, 1)).toEqual([1, 1, 1]);
    expect(() => fewShotSizes(6, 5)).toThrow(/cannot fill 5 support shots/);
  });

  it('refuses shots the participants cannot hold, sinusoid shots, and shots mixed with fractions', () => {
    expect(() => createScenario({ name: 'iid', participants: 1000, seed: 1, supportShots: 9 }, mnist)).toThrow(
      /supportShots 9 needs at least 11 digits per participant .* but participants get 10/,
    );
    expect(createScenario({ name: 'iid', participants: 1000, seed: 1, supportShots: 8 }, mnist).participant(0).support.count).toBe(8);
    expect(() => createScenario({ name: 'sinusoid', participants: 10, seed: 1, supportShots: 5 })).toThrow(
      /a sinusoid's support size is kShot/,
    );
    expect(() => createScenario({ name: 'iid', participants: 10, seed: 1, supportShots: 5, supportFraction: 0.1 }, mnist)).toThrow(
      /supportShots replaces supportFraction/,
    );
    expect(() => createScenario({ name: 'iid', participants: 10, seed: 1, supportShots: 0 }, mnist)).toThrow(
      /supportShots must be a positive integer/,
    );
  });
});

describe('validation participants', () => {
  it('are disjoint from trainers and held-out participants, seeded, and flagged', () => {
    for (const name of ['rotated', 'sinusoid'] as const) {
      // Prepare / Execute
      const config = { name, participants: 60, seed: 3, heldOut: 12, validation: 8 };
      const scenario = createScenario(config, mnist);
      // Assert: 8 validation, 12 held out, 40 trainers; the data and the flags agree.
      expect(scenario.validation).toHaveLength(8);
      expect(scenario.validation.filter((i) => scenario.heldOut.includes(i))).toEqual([]);
      expect(validationIndices(config)).toEqual(scenario.validation);
      for (let i = 0; i < 60; i++) {
        const p = scenario.participant(i);
        expect(p.validation).toBe(scenario.validation.includes(i));
        expect(p.heldOut).toBe(scenario.heldOut.includes(i));
        expect(isValidation(config, i)).toBe(p.validation);
        expect(isHeldOut(config, i)).toBe(p.heldOut);
      }
      // The same seed gives the same ones; another seed others.
      expect(createScenario(config, mnist).validation).toEqual(scenario.validation);
      expect(createScenario({ ...config, seed: 4 }, mnist).validation).not.toEqual(scenario.validation);
    }
  });

  it('never change who is held out, and cover the rotation groups evenly', () => {
    const plain = createScenario({ name: 'rotated', participants: 80, seed: 1, heldOut: 20 }, mnist);
    const tuned = createScenario({ name: 'rotated', participants: 80, seed: 1, heldOut: 20, validation: 20 }, mnist);
    expect(plain.validation).toEqual([]);
    expect(tuned.heldOut).toEqual(plain.heldOut);
    for (const group of [tuned.heldOut, tuned.validation]) {
      const angles = group.map((i) => angleOf(tuned.participant(i)));
      for (const angle of ROTATION_ANGLES) expect(angles.filter((a) => a === angle)).toHaveLength(5);
    }
  });

  it('fit beside the held-out participants or are refused', () => {
    const all = createScenario({ name: 'sinusoid', participants: 10, seed: 1, heldOut: 4, validation: 6 });
    expect(all.validation).toHaveLength(6);
    expect(() => createScenario({ name: 'sinusoid', participants: 10, seed: 1, heldOut: 4, validation: 7 })).toThrow(
      /validation must be an integer in \[0, 6\] \(participants − heldOut\), got 7/,
    );
    expect(() => createScenario({ name: 'sinusoid', participants: 10, seed: 1, validation: -1 })).toThrow(/validation must be/);
  });
});

describe('sinusoid freshPoints', () => {
  const config = { name: 'sinusoid', participants: 20, seed: 9, kShot: 5, freshPoints: true } as const;

  it('draws a round its own support and query points of the same sine: the same for the same round, new for another', () => {
    // Prepare
    const p = createScenario(config).participant(7);
    const again = createScenario(config).participant(7);
    const { amplitude, phase } = sinusoidTask(7, 9);
    // Execute
    const round3 = p.trainingData!(3);
    const round3Again = again.trainingData!(3);
    const round4 = p.trainingData!(4);
    // Assert
    expect(Array.from(round3Again.support.x)).toEqual(Array.from(round3.support.x));
    expect(Array.from(round3Again.query.y)).toEqual(Array.from(round3.query.y));
    expect(Array.from(round4.support.x)).not.toEqual(Array.from(round3.support.x));
    expect(Array.from(round3.query.x)).not.toEqual(Array.from(round3.support.x));
    for (const set of [round3.support, round3.query, round4.support, round4.query]) {
      expect(set.count).toBe(5);
      for (let j = 0; j < set.count; j++) {
        expect(Math.abs(set.y[j]! - amplitude * Math.sin(set.x[j]! - phase))).toBeLessThan(1e-6);
      }
    }
  });

  it('keeps the fixed sets (what evaluation adapts and scores on) as without fresh points', () => {
    const fresh = createScenario(config).participant(2);
    const fixed = createScenario({ ...config, freshPoints: false }).participant(2);
    expect(fixed.trainingData).toBeUndefined();
    expect(same(fresh, { ...fixed, description: fresh.description })).toBe(true);
    expect(fresh.description).toContain('fresh points each round');
  });

  it('is for the sinusoid only', () => {
    expect(() => createScenario({ name: 'iid', participants: 10, seed: 1, freshPoints: true }, mnist)).toThrow(
      /freshPoints is for the sinusoid scenario/,
    );
  });
});

describe('label permutations (labelPermutations)', () => {
  // A participant's labelling as "digit's own label → the label it trains on", read off its examples.
  const labelling = (p: ParticipantData): Map<number, number> => {
    const seen = new Map<number, number>();
    for (const set of [p.support, p.query, p.test]) {
      digits(set, 0, true).forEach((digit, j) => {
        const own = mnist.labels[digit] as number;
        const given = set.y[j] as number;
        expect(seen.get(own) ?? given).toBe(given); // one label per digit class: a permutation, not noise
        seen.set(own, given);
      });
    }
    return seen;
  };

  it('names the digits by one permutation per trainer group, and by an unseen one for every newcomer', () => {
    // Prepare: 60 IID participants in 4 groups; 10 held out and 6 validation participants.
    const scenario = createScenario({ name: 'iid', participants: 60, seed: 7, heldOut: 10, validation: 6, labelPermutations: 4 }, mnist);
    const newcomers = new Set([...scenario.heldOut, ...scenario.validation]);
    const trainers = Array.from({ length: 60 }, (_, i) => i).filter((i) => !newcomers.has(i));
    // Execute
    const key = (i: number) => [...labelling(scenario.participant(i)).entries()].sort((a, b) => a[0] - b[0]).join(' ');
    const trainerLabellings = trainers.map(key);
    const newcomerLabellings = [...newcomers].map(key);
    // Assert: four labellings among the 44 trainers, about 11 each; each is a permutation of all ten labels.
    const groups = new Map<string, number>();
    for (const k of trainerLabellings) groups.set(k, (groups.get(k) ?? 0) + 1);
    expect(groups.size).toBe(4);
    expect([...groups.values()].every((n) => n >= 10 && n <= 12)).toBe(true);
    const one = labelling(scenario.participant(trainers[0]!));
    expect([...one.keys()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...one.values()].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Newcomers: 16 labellings of their own, none a trainer group's.
    expect(new Set(newcomerLabellings).size).toBe(16);
    expect(newcomerLabellings.some((k) => groups.has(k))).toBe(false);
    expect(scenario.participant(trainers[0]!).description).toMatch(/labels permuted \(group \d of 4\): 0→\d 1→\d/);
    expect(scenario.participant(scenario.heldOut[0]!).description).toMatch(/labels permuted \(its own labelling, unseen in training\)/);
  });

  it('keeps the digits and only renames them, deterministically', () => {
    const plain = createScenario({ name: 'dirichlet', participants: 20, seed: 4, supportShots: 10 }, mnist).participant(5);
    const config = { name: 'dirichlet' as const, participants: 20, seed: 4, supportShots: 10, labelPermutations: 3 };
    const permuted = createScenario(config, mnist).participant(5);
    expect(digits(permuted.support, 0, true)).toEqual(digits(plain.support));
    expect(digits(permuted.test, 0, true)).toEqual(digits(plain.test));
    expect(permuted.support.y).not.toEqual(plain.support.y);
    expect(createScenario(config, mnist).participant(5).support.y).toEqual(permuted.support.y);
  });

  it('refuses permutations of a sine, and out-of-range counts', () => {
    expect(() => createScenario({ name: 'sinusoid', participants: 10, seed: 1, labelPermutations: 2 })).toThrow(
      /labelPermutations is for the MNIST scenarios/,
    );
    expect(() => createScenario({ name: 'iid', participants: 10, seed: 1, labelPermutations: 1.5 }, mnist)).toThrow(
      /labelPermutations must be an integer in \[0, 1000\]/,
    );
    expect(createScenario({ name: 'iid', participants: 10, seed: 1, labelPermutations: 0 }, mnist).participant(0).description).not.toMatch(
      /permuted/,
    );
  });
});
