import { defineConfig } from '@playwright/test';

/** The hub the specs share; specs that restart a hub start their own (see e2e/hub-process.ts). */
export const E2E_PORT = Number(process.env.TABULA_E2E_PORT ?? 18_765);

export default defineConfig({
  testDir: 'e2e',
  testMatch: '*.spec.ts',
  // Every tab trains on the same 2 cores: one spec at a time, generous timeouts, no timing assertions.
  workers: 1,
  fullyParallel: false,
  timeout: 240_000,
  expect: { timeout: 30_000 },
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${E2E_PORT}`,
    trace: 'retain-on-failure',
    launchOptions: {
      // Debian's Chromium: Playwright's own browser download cannot work here. Playwright already passes
      // --no-sandbox, --disable-background-networking, --disable-component-update, --no-first-run and
      // --enable-unsafe-swiftshader (WebGL without a GPU).
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      // --enable-unsafe-webgpu: headless Chromium then offers WebGPU on localhost pages through SwiftShader's
      // fallback adapter, so the WebGPU path is tested as WebGL's is.
      args: ['--disable-sync', '--enable-unsafe-webgpu'],
    },
  },
  webServer: {
    command: 'node_modules/.bin/tsx e2e/serve.ts',
    url: `http://127.0.0.1:${E2E_PORT}/api/health`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: { TABULA_E2E_PORT: String(E2E_PORT) },
  },
});
