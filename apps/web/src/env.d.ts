// @tabula/core's tf.ts checks `typeof process` to detect Node; in the browser it is simply undefined.
declare const process: { readonly versions?: { readonly node?: string } } | undefined;
