// The Rényi orders α at which the accountant evaluates RDP; ε is the minimum of the (ε, δ) bounds over them, so a
// wider and finer list can only lower ε. An optimum at the first or last order means the list is too narrow there.

/**
 * dp_accounting's `DEFAULT_RDP_ORDERS` (rdp_privacy_accountant.py): 1.1, 1.2, …, 10.9, then 11, 12, …, 63, then 128, 256,
 * 512, 1024. It contains Opacus's default alphas and the orders of TF Privacy's compute_dp_sgd_privacy, so their
 * published ε values come out unchanged, and it starts above the 1.01 below which the conversion is not used.
 */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, i) => 1 + (i + 1) / 10),
  ...Array.from({ length: 53 }, (_, i) => 11 + i),
  128,
  256,
  512,
  1024,
]);

/** The integer orders 2, 3, …, 256 of the design document's first sketch (privacy.md §3.2 and the §3.5 budget example). */
export const INTEGER_RDP_ORDERS: readonly number[] = Object.freeze(Array.from({ length: 255 }, (_, i) => 2 + i));
