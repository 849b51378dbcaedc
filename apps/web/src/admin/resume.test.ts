import type { RunSummary } from '@tabula/core/protocol';
import { describe, expect, it } from 'vitest';
import { resumeOffer } from './resume.js';

function run(id: string, status: RunSummary['status']): RunSummary {
  return { id, status, config: {} as RunSummary['config'], createdAt: 0, updatedAt: 0, completedRounds: 2, error: null };
}

describe('resumeOffer', () => {
  it('offers Resume for a paused or failed run, enabled while no other run is in progress', () => {
    expect(resumeOffer(run('a', 'paused'), null)).toEqual({ blockedBy: null });
    expect(resumeOffer(run('a', 'failed'), run('b', 'completed'))).toEqual({ blockedBy: null });
  });

  it('disables it, saying why, while another run is in progress', () => {
    expect(resumeOffer(run('a', 'paused'), run('b', 'running'))).toEqual({ blockedBy: 'run b is in progress: stop it first' });
  });

  it('offers nothing for a running, completed or stopped run', () => {
    for (const status of ['running', 'completed', 'stopped'] as const) expect(resumeOffer(run('a', status), null)).toBeNull();
  });
});
