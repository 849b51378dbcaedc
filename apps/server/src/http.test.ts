import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEST_TOKEN, afterThisTest, startTestHub } from './test-hub.js';

function postRun(url: string, headers: Record<string, string>, body: string): Promise<Response> {
  return fetch(`${url}/api/runs`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}`, ...headers }, body });
}

describe('HTTP', () => {
  it('sends security headers on the web app and the API: no framing, no sniffing, no referrer, a CSP the app needs', async () => {
    // Prepare
    const webRoot = mkdtempSync(join(tmpdir(), 'tabula-web-'));
    afterThisTest(() => rmSync(webRoot, { recursive: true, force: true }));
    writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>t</title>');
    const { url } = await startTestHub({ webRoot });
    // Execute
    const responses = await Promise.all(['/', '/api/health', '/api/runs/none'].map((path) => fetch(`${url}${path}`)));
    // Assert
    for (const response of responses) {
      const csp = response.headers.get('content-security-policy') ?? '';
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("default-src 'self'");
      expect(csp).toMatch(/script-src 'self' 'wasm-unsafe-eval'(;|$)/);
      // A hub without TLS of its own: upgrading its subresources to https would break every page.
      expect(csp).not.toContain('upgrade-insecure-requests');
    }
  });

  it('answers an unsupported body charset or Content-Encoding with 415 and the reason', async () => {
    // Prepare
    const { hub, url } = await startTestHub();
    // Execute
    const charset = await postRun(url, { 'content-type': 'application/json; charset=latin1' }, '{}');
    const encoding = await postRun(url, { 'content-type': 'application/json', 'content-encoding': 'zstd-x' }, '{}');
    // Assert
    expect(charset.status).toBe(415);
    expect(await charset.json()).toEqual({ error: 'unsupported body charset "LATIN1": send JSON in UTF-8' });
    expect(encoding.status).toBe(415);
    expect(await encoding.json()).toEqual({ error: 'unsupported Content-Encoding "zstd-x": send the body as is, or gzip, deflate or br' });
    expect(hub.store.listRuns()).toEqual([]);
  });

  it('answers a malformed %-escape in the URL with 400 naming the URL, not the body', async () => {
    // Prepare
    const { url } = await startTestHub();
    // Execute
    const response = await fetch(`${url}/api/runs/%E0%A4%A`);
    const body = (await response.json()) as { error: string };
    // Assert
    expect(response.status).toBe(400);
    expect(body.error).toBe('invalid URL /api/runs/%E0%A4%A: malformed %-escape');
  });

  it('still answers a malformed JSON body with 400 naming the body', async () => {
    // Prepare
    const { url } = await startTestHub();
    // Execute
    const response = await postRun(url, { 'content-type': 'application/json' }, '{"algorithm":');
    const body = (await response.json()) as { error: string };
    // Assert
    expect(response.status).toBe(400);
    expect(body.error).toMatch(/^invalid JSON body: /);
  });

  it('starts meta-sgd and per-fedavg runs from their presets, and sizes a meta-sgd run by its weights and rates', async () => {
    // Prepare: a hub that takes frames of at most 2,000 values; the sinusoid model has 1,761 parameters.
    const { hub, url } = await startTestHub({ maxParameters: 2000 });
    const json = { 'content-type': 'application/json' };
    // Execute
    const perFedAvg = await postRun(url, json, JSON.stringify({ algorithm: 'per-fedavg-hf', scenario: { name: 'sinusoid' } }));
    const started = (await perFedAvg.json()) as { id: string; config: { algorithm: string } };
    const noRates = await fetch(`${url}/api/model/rates.bin`);
    await hub.stopRun(started.id);
    const metaSgd = await postRun(url, json, JSON.stringify({ algorithm: 'meta-sgd', scenario: { name: 'sinusoid' } }));
    const refused = (await metaSgd.json()) as { error: string };
    // Assert
    expect(perFedAvg.status).toBe(201);
    expect(started.config.algorithm).toBe('per-fedavg-hf');
    expect(noRates.status).toBe(404);
    expect(((await noRates.json()) as { error: string }).error).toBe("per-fedavg-hf learns no rates: adapt at the run's innerLr");
    expect(metaSgd.status).toBe(400);
    expect(refused.error).toBe("model: 3522 federated values exceed this hub's limit of 2000");
  });
});
