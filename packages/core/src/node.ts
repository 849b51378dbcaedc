// Node-only helpers of @tabula/core: they read files, so browsers must not import them.
export { DEFAULT_MNIST_PATH, loadMnist } from './data/mnist-node.js';
