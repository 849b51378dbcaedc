import { describe, expect, it } from 'vitest';
import { refusalMessage } from './hub-session.js';

describe('refusalMessage', () => {
  it("tells a tab older or newer than its hub what to do, by the hub's code", () => {
    expect(refusalMessage({ code: 'client-too-old', error: 'protocol 1, hub speaks 2' })).toMatch(
      /^this page is older than the hub: reload it/,
    );
    expect(refusalMessage({ code: 'server-too-old', error: 'protocol 3, hub speaks 2' })).toMatch(/^the hub is older than this page/);
    expect(refusalMessage({ code: 'server-too-old', error: 'x' })).not.toMatch(/reload/);
  });

  it("names the hub's reason for any other refusal", () => {
    expect(refusalMessage({ code: 'invalid', error: 'malformed hello: backend: too long' })).toBe(
      'the hub refused this tab: malformed hello: backend: too long',
    );
    expect(refusalMessage({ error: 'no reason code' })).toBe('the hub refused this tab: no reason code');
    expect(refusalMessage({ code: 'unavailable', error: 'no answer to hello within 15000 ms' })).toBe(
      'cannot join the hub now: no answer to hello within 15000 ms',
    );
  });
});
