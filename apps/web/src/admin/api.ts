import type { RoundSummary, RunSummary } from '@tabula/core/protocol';

/** The hub's JSON API; errors arrive as { error } and are thrown with that text. */
export class HubApi {
  constructor(private readonly token: () => string | null) {}

  /**
   * Sends the token (participant lists and a DP run's rounds are the admin's); a failed request throws "METHOD path:
   * status error" with the hub's { error } text.
   */
  private async request(method: 'GET' | 'POST' | 'DELETE', path: string, accept = 'application/json'): Promise<unknown> {
    const token = this.token();
    const response = await fetch(path, {
      method,
      headers: { Accept: accept, ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    });
    const text = accept === 'text/csv' && response.ok;
    const body: unknown = response.status === 204 ? null : await (text ? response.text() : response.json()).catch(() => null);
    if (!response.ok) {
      const error = typeof body === 'object' && body !== null && 'error' in body ? String(body.error) : response.statusText;
      throw new Error(`${method} ${path}: ${response.status} ${error}`);
    }
    return body;
  }

  private async get<T>(path: string): Promise<T> {
    return (await this.request('GET', path)) as T;
  }

  /** Newest first. Accepts a bare array or { runs: [...] }. */
  async runs(): Promise<RunSummary[]> {
    const body = await this.get<RunSummary[] | { runs: RunSummary[] }>('/api/runs');
    const runs = Array.isArray(body) ? body : body.runs;
    return [...runs].sort((a, b) => b.createdAt - a.createdAt);
  }

  run(id: string): Promise<RunSummary & { rounds: RoundSummary[] }> {
    return this.get(`/api/runs/${encodeURIComponent(id)}`);
  }

  /** A run's rounds as CSV, with the counts the public view of a DP run leaves blank. */
  async roundsCsv(id: string): Promise<string> {
    return String(await this.request('GET', `/api/runs/${encodeURIComponent(id)}/rounds.csv`, 'text/csv'));
  }

  /** Continues a paused or failed run from its last checkpoint (admin token); the hub says why it cannot. */
  async resumeRun(id: string): Promise<RunSummary> {
    return (await this.request('POST', `/api/runs/${encodeURIComponent(id)}/resume`)) as RunSummary;
  }

  /** Deletes a finished run and its rounds (admin token). */
  async deleteRun(id: string): Promise<void> {
    await this.request('DELETE', `/api/runs/${encodeURIComponent(id)}`);
  }
}
