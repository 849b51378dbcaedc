import { describe, expect, it } from 'vitest';
import { logErfc } from './log-erfc.js';

// Reference values: mpmath.log(mpmath.erfc(x)) at 40 digits.
const REFERENCE: [number, number][] = [
  [-30, 0.6931471805599453],
  [-3, 0.6931361352504468],
  [-0.5, 0.41903914777555956],
  [0, 0],
  [1e-8, -1.1283791734617103e-8],
  [0.5, -0.7350111298370844],
  [1, -1.8496055099332482],
  [1.999, -5.360524027545017],
  [2, -5.364941264616638],
  [2.001, -5.369360349189935],
  [5, -27.200889545537436],
  [10, -102.87988902484489],
  [26, -679.8311997631943],
  [30, -903.9741171106439],
  [100, -10005.177585122665],
  [1000, -1000007.4801207219],
];

describe('logErfc', () => {
  it.each(REFERENCE)('log erfc(%d) matches mpmath to a relative 1e-13', (x, expected) => {
    // Prepare / Execute
    const got = logErfc(x);
    // Assert
    expect(Math.abs(got - expected)).toBeLessThanOrEqual(1e-13 * Math.max(Math.abs(expected), 1e-300));
  });

  it('stays finite where erfc itself underflows, and handles the infinities', () => {
    expect(Math.exp(logErfc(30))).toBe(0);
    expect(Number.isFinite(logErfc(1e6))).toBe(true);
    expect(logErfc(Number.POSITIVE_INFINITY)).toBe(Number.NEGATIVE_INFINITY);
    expect(logErfc(Number.NEGATIVE_INFINITY)).toBeCloseTo(Math.LN2, 15);
    expect(logErfc(Number.NaN)).toBeNaN();
  });

  it('is continuous where the series hands over to the continued fraction (x = 2)', () => {
    const below = logErfc(2 - 1e-12);
    const above = logErfc(2);
    // d/dx log erfc(x) at 2 is about -4.4, so 1e-12 apart they differ by about 4.4e-12.
    expect(Math.abs(below - above - 4.4e-12)).toBeLessThan(1e-12);
  });
});
