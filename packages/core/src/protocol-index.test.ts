import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as protocolApi from './protocol-index.js';

const srcDir = dirname(fileURLToPath(import.meta.url));

/** Every module `file` reaches through static imports and re-exports (type-only imports are erased, so skipped). */
function importGraph(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const source = readFileSync(file, 'utf8');
  for (const match of source.matchAll(/^(?:import|export)\s+(?:(?!type\b)[^;]*?from\s+)?'([^']+)'/gms)) {
    const specifier = match[1]!;
    if (!specifier.startsWith('.')) seen.add(specifier);
    else {
      const base = resolve(dirname(file), specifier.replace(/\.js$/, ''));
      importGraph([`${base}.ts`, join(base, 'index.ts')].find(existsSync) ?? `${base}.ts`, seen);
    }
  }
  return seen;
}

describe('@tabula/core/protocol', () => {
  it('reaches neither TF.js nor the tf module, so the dashboard bundle stays small', () => {
    const graph = [...importGraph(resolve(srcDir, 'protocol-index.ts'))];
    expect(graph.filter((m) => m.includes('@tensorflow') || m.endsWith('/tf.ts'))).toEqual([]);
    // The walk does follow imports: it reaches zod through protocol.ts.
    expect(graph).toContain('zod');
  });

  it('the full index does reach TF.js (the check above can fail)', () => {
    const graph = [...importGraph(resolve(srcDir, 'index.ts'))];
    expect(graph.some((m) => m.includes('@tensorflow'))).toBe(true);
  });

  it('exports what the dashboard uses', () => {
    for (const name of [
      'RunConfigSchema',
      'presetRunConfig',
      'parseOrError',
      'ALGORITHMS',
      'SCENARIOS',
      'DEFAULT_CLIENT_HYPER',
      'MNIST_MLP',
      'MNIST_CNN',
      'SINUSOID_MLP',
    ]) {
      expect(protocolApi, name).toHaveProperty(name);
    }
  });
});
