import { formatCount, plural } from '../shared/format.js';

/**
 * What a run shares and what each participant keeps, as the hub counts it (GET /api/runs/:id): the dashboard has no
 * TF.js-free way to size a model itself, so it shows the hub's figures.
 */
export interface Federation {
  readonly sharedParameters: number;
  readonly headParameters: number;
  readonly headLayers: number;
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0;

/** The figures in a hub answer, or null when it has none (an older hub). */
export function federationOf(body: unknown): Federation | null {
  if (typeof body !== 'object' || body === null) return null;
  const { sharedParameters, headParameters, headLayers } = body as Record<string, unknown>;
  if (!isCount(sharedParameters) || !isCount(headParameters) || !isCount(headLayers)) return null;
  return { sharedParameters, headParameters, headLayers };
}

/** For a run whose participants keep a personal head (fedrep, fedper): which part is federated and which stays; else null. */
export function sharedPartText(federation: Federation | null): string | null {
  if (!federation || federation.headLayers === 0) return null;
  const { sharedParameters, headParameters, headLayers } = federation;
  return `body: ${formatCount(sharedParameters)} parameters federated; head: last ${plural(headLayers, 'layer')}, ${formatCount(headParameters)} parameters, kept by each participant`;
}
