import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
/** The hub that `vite` (dev) forwards the API, the MNIST asset and socket.io to. */
const hub = process.env.TABULA_HUB ?? 'http://localhost:8080';

export default defineConfig({
  base: '/',
  // The training worker is a module worker (training-worker.ts): ES output, so it shares chunks with the page.
  worker: { format: 'es' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // TF.js alone is about 1.5 MB minified: one big chunk is expected, not a mistake.
    chunkSizeWarningLimit: 4096,
    rollupOptions: {
      input: {
        participant: resolve(root, 'index.html'),
        admin: resolve(root, 'admin/index.html'),
      },
    },
  },
  server: {
    proxy: {
      '/api': hub,
      '/data': hub,
      '/socket.io': { target: hub, ws: true },
    },
  },
  preview: {
    proxy: {
      '/api': hub,
      '/data': hub,
      '/socket.io': { target: hub, ws: true },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    pool: 'forks',
  },
});
