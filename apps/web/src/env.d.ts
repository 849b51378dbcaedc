// @tabula/core's tf.ts checks `typeof process` to detect Node; in the browser it is simply undefined.
declare var process: { readonly versions?: { readonly node?: string } } | undefined;
