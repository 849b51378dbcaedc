import { expect } from 'vitest';
import { WireError, type WireErrorCode } from './wire-error.js';

/** Test helper: `fn` must throw a WireError with this code and this exact message (or one matching it). */
export function expectWireError(fn: () => unknown, code: WireErrorCode, message: string | RegExp): WireError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof WireError))
    throw new Error(
      `expected a WireError '${code}', got ${thrown instanceof Error ? String(thrown) : thrown === undefined ? 'no error' : JSON.stringify(thrown)}`,
    );
  expect(thrown.code).toBe(code);
  if (typeof message === 'string') expect(thrown.message).toBe(message);
  else expect(thrown.message).toMatch(message);
  return thrown;
}
