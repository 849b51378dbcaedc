import { describe, expect, it } from 'vitest';
import { Participation, STORAGE_KEY } from './participation.js';

/** localStorage as far as Participation uses it. */
function memoryStorage(initial: Record<string, string> = {}) {
  const values = new Map(Object.entries(initial));
  return { getItem: (key: string) => values.get(key) ?? null, setItem: (key: string, value: string) => void values.set(key, value) };
}

describe('Participation', () => {
  it('remembers a pause, a visibility rule and a limit across reloads, and says why the tab sits out', () => {
    // Prepare
    const storage = memoryStorage();
    const first = new Participation(storage, () => 0);

    // Execute
    first.update({ paused: true, visibleOnly: true, maxRoundsPerHour: 2 });
    const reloaded = new Participation(storage, () => 0);

    // Assert
    expect(reloaded.settings).toEqual({ paused: true, visibleOnly: true, maxRoundsPerHour: 2, left: false });
    expect(reloaded.pauseReason(false)).toBe('you paused taking part: resume to be selected again');
    reloaded.update({ paused: false });
    expect(reloaded.pauseReason(false)).toBeNull();
    expect(reloaded.pauseReason(true)).toBe('this tab is hidden, and you asked to take part only while it is visible');
  });

  it('sits out once it took part in its limit of rounds within an hour, and takes part again as the oldest ages out', () => {
    // Prepare
    let now = 10_000_000;
    const storage = memoryStorage();
    const participation = new Participation(storage, () => now);
    participation.update({ maxRoundsPerHour: 2 });

    // Execute: two rounds 10 minutes apart.
    participation.roundDone();
    now += 600_000;
    participation.roundDone();
    const held = participation.pauseReason(false);
    const wait = participation.untilLimitLifts();
    const afterReload = new Participation(storage, () => now).pauseReason(false);
    now += 3_000_000; // the first round is an hour old now

    // Assert
    expect(held).toMatch(/^2 rounds in the last hour, your limit is 2: taking part again at /);
    expect(afterReload).toBe(held);
    expect(wait).toBe(3_000_000);
    expect(participation.pauseReason(false)).toBeNull();
    expect(participation.roundsThisHour).toBe(1);
  });

  it('refuses a limit that is not a whole number of at least one, changing nothing; a malformed stored value is ignored', () => {
    const participation = new Participation(memoryStorage({ [STORAGE_KEY]: '{"paused":"yes","maxRoundsPerHour":-3,"rounds":[1,"x"]}' }));
    expect(participation.settings).toEqual({ paused: false, visibleOnly: false, maxRoundsPerHour: null, left: false });
    expect(() => participation.update({ maxRoundsPerHour: 0.5 })).toThrow(/whole number of at least 1/);
    expect(participation.settings.maxRoundsPerHour).toBeNull();
    expect(new Participation(memoryStorage({ [STORAGE_KEY]: 'not json' })).settings.left).toBe(false);
  });

  it('a tab that left stays away until the person joins again', () => {
    const storage = memoryStorage();
    new Participation(storage).update({ left: true });
    const reloaded = new Participation(storage);
    expect(reloaded.pauseReason(false)).toBe('you left: join again to take part');
    reloaded.update({ left: false });
    expect(reloaded.pauseReason(false)).toBeNull();
  });
});
