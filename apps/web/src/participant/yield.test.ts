import { describe, expect, it } from 'vitest';
import { createYielder } from './yield.js';

describe('createYielder', () => {
  it('yields to the event loop only when the interval has passed', async () => {
    let t = 0;
    const yieldToUi = createYielder(30, () => t);
    const order: string[] = [];
    setTimeout(() => order.push('timer'), 0);
    await yieldToUi(); // t = 0: within the interval, resolves without a task
    order.push('no yield');
    t = 31;
    await yieldToUi();
    order.push('yielded');
    await new Promise((r) => setTimeout(r, 5));
    expect(order[0]).toBe('no yield');
    expect(order).toContain('yielded');
  });
});
