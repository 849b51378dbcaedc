// Node-only helpers of @tabula/core: they read files, so browsers must not import them.
export { loadMnist } from './data/mnist-node.js';
