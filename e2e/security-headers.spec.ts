import { expect, test, type BrowserContext } from '@playwright/test';
import { reptileRun, signIn, startRunApi, waitForRun } from './dashboard.js';
import { openShardTabs } from './participants.js';
import { trainerIndices } from './scenario.js';

const scenario = { name: 'shards', participants: 24, seed: 1 } as const;

/** Everything in the context's pages the CSP would block or that breaks a page: violations, CSP console errors, uncaught errors. */
async function watchProblems(context: BrowserContext): Promise<string[]> {
  const problems: string[] = [];
  await context.exposeBinding('reportViolation', (source, text: string) => void problems.push(`${source.page.url()}: ${text}`));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      void (window as unknown as { reportViolation(text: string): void }).reportViolation(
        `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`,
      );
    });
  });
  context.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) problems.push(`${message.page()?.url()}: console: ${message.text()}`);
  });
  context.on('weberror', (error) => problems.push(`${error.page()?.url()}: page error: ${error.error().message}`));
  return problems;
}

test("the participant page and the dashboard work under the hub's security headers, and cannot be framed", async ({ browser, baseURL }) => {
  // Prepare
  const context = await browser.newContext();
  const problems = await watchProblems(context);
  const [wasmIndex, webglIndex] = trainerIndices(scenario, 2);
  const dashboard = await context.newPage();
  const page = await dashboard.goto('/admin/');
  await signIn(dashboard);
  // Execute: a wasm tab and a WebGL tab train two rounds while the dashboard draws them.
  const [wasmTab] = await openShardTabs(context, scenario, [wasmIndex!], '', '&backend=wasm');
  const [webglTab] = await openShardTabs(context, scenario, [webglIndex!], '', '&backend=webgl');
  await expect(wasmTab!.getByTestId('backend')).toHaveText('wasm');
  await expect(webglTab!.getByTestId('backend')).toHaveText('webgl');
  const id = await startRunApi(baseURL!, reptileRun(scenario, 2, 2));
  const run = await waitForRun(baseURL!, id, (r) => r.status !== 'running');
  await expect(dashboard.getByTestId('run-status')).toContainText(/completed/i);
  const framer = await context.newPage();
  await framer.route('http://framer.example/', (route) =>
    route.fulfill({ contentType: 'text/html', body: `<iframe src="${baseURL}/admin/"></iframe>` }),
  );
  await framer.goto('http://framer.example/');
  // Assert
  expect(run.status).toBe('completed');
  const headers = page!.headers();
  expect(headers['content-security-policy']).toContain("script-src 'self' 'wasm-unsafe-eval'");
  expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('no-referrer');
  // Chromium shows its error page in place of a frame whose ancestors the CSP refuses.
  await expect.poll(() => framer.frames().map((f) => f.url())).toContain('chrome-error://chromewebdata/');
  expect(problems.filter((p) => !p.startsWith('http://framer.example/'))).toEqual([]);
  await context.close();
});
