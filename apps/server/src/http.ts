import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  PROTOCOL_VERSION,
  exportLayersModel,
  federatedLength,
  headLength,
  keepsHead,
  localModel,
  parameterCount,
  publicRound,
  roundsCsv,
  runGuarantee,
  splitFederated,
  type AckErrorCode,
  type LayersModelFiles,
  type ParticipantInfo,
  type RoundSummary,
  type RunConfig,
  type RunGuarantee,
  type RunSummary,
} from '@tabula/core';
import { DEFAULT_MNIST_PATH } from '@tabula/core/node';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { AdminAuth } from './admin-auth.js';
import type { CurrentModel, Outcome } from './run-service.js';

/** All the HTTP API needs of the hub: reads, and the run operations with their outcomes. */
export interface HttpPort {
  health(): { participants: number; activeRun: { id: string; completedRounds: number; rounds: number } | null };
  /** The live hubs sharing this hub's Redis (design/scale-out.md), this one included; without Redis, this one. */
  hubs(): Promise<readonly { id: string; facts: unknown }[]>;
  /** With several hubs, every hub's. */
  participants(): Promise<readonly ParticipantInfo[]>;
  runs(): Promise<readonly RunSummary[]>;
  latestRun(): Promise<RunSummary | null>;
  run(id: string): Promise<RunSummary | null>;
  rounds(runId: string): Promise<readonly RoundSummary[]>;
  currentModel(): Promise<CurrentModel | null>;
  startRun(input: unknown): Promise<Outcome<RunSummary>>;
  stopRun(runId: string): Promise<Outcome<RunSummary>>;
  resumeRun(runId: string): Promise<Outcome<RunSummary>>;
  deleteRun(runId: string): Promise<Outcome<null>>;
}

/** The one place a hub outcome's code becomes an HTTP status. */
const STATUS_OF: Record<AckErrorCode, number> = {
  invalid: 400,
  unauthorized: 401,
  'not-found': 404,
  conflict: 409,
  'no-run': 409,
  'not-selected': 409,
  stale: 409,
  late: 409,
  duplicate: 409,
  'invalid-frame': 400,
  'too-many-examples': 400,
  'rate-limited': 429,
  'identity-refused': 409,
  'client-too-old': 400,
  'server-too-old': 400,
  refused: 409,
  unavailable: 503,
  full: 503,
  internal: 500,
};

/**
 * What a run shares with the hub and what stays on each participant: `sharedParameters` values travel each way per
 * round (Meta-SGD: weights and learned rates; fedrep, fedper: the body alone); `headParameters` in the last
 * `headLayers` layers are each participant's own (0 and 0 unless the algorithm keeps a personal head).
 */
function federation(config: RunConfig): { sharedParameters: number; headParameters: number; headLayers: number } {
  const personal = keepsHead(config.algorithm);
  return {
    sharedParameters: federatedLength(config.model, config.algorithm),
    headParameters: personal ? headLength(config.model) : 0,
    headLayers: personal ? (config.model.head ?? 1) : 0,
  };
}

/** The data of a successful outcome; a failure is thrown with its status. */
function dataOf<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) throw new HttpError(STATUS_OF[outcome.code], outcome.error, outcome.code);
  return outcome.data;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: AckErrorCode,
  ) {
    super(message);
  }
}

/**
 * The built web app loads only its own files. TF.js's wasm backend compiles WebAssembly ('wasm-unsafe-eval',
 * not 'unsafe-eval'); the favicon and thumbnails are data: URLs; socket.io connects back to the page's own host,
 * which 'self' covers for ws: and wss: too. The hub has no TLS of its own, so nothing is upgraded to https.
 */
const CONTENT_SECURITY_POLICY = {
  'default-src': ["'self'"],
  'script-src': ["'self'", "'wasm-unsafe-eval'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'font-src': ["'self'"],
  'frame-ancestors': ["'none'"],
  'upgrade-insecure-requests': null,
};

/** REST API (JSON errors with a message) + the MNIST asset + the built web app. */
export function createHttpApp(
  hub: HttpPort,
  options: {
    adminAuth: AdminAuth;
    webRoot?: string | undefined;
    /** Several hubs: the others' origins, which the page may connect to (and fetch their hub list from) if its hub goes. */
    peerOrigins?: () => readonly string[];
  },
): express.Express {
  const app = express();
  const started = Date.now();
  app.disable('x-powered-by');
  const peers = options.peerOrigins;
  const directives = peers
    ? {
        ...CONTENT_SECURITY_POLICY,
        'connect-src': [
          "'self'",
          () =>
            peers()
              .flatMap((origin) => [origin, origin.replace(/^http/, 'ws')])
              .join(' ') || "'self'",
        ],
      }
    : CONTENT_SECURITY_POLICY;
  app.use(helmet({ contentSecurityPolicy: { directives }, xFrameOptions: { action: 'deny' } }));
  app.use(express.json({ limit: '256kb' }));

  const requireAdmin = async (req: Request, res: Response) => {
    const header = req.get('authorization');
    const result = await options.adminAuth.check(req, header && (/^Bearer (.+)$/.exec(header)?.[1] ?? header));
    if (result.ok) return;
    if (result.code === 'throttled') res.set('Retry-After', String(result.retryAfterS));
    const hint = result.code === 'token-required' ? ': send "Authorization: Bearer <token>"' : '';
    throw new HttpError(
      result.code === 'throttled' ? 429 : 401,
      result.error + hint,
      result.code === 'throttled' ? 'rate-limited' : 'unauthorized',
    );
  };

  /**
   * Reads that show participants answer in full with the admin token. Without one (no Authorization header) they
   * answer the public view; a wrong token is refused as on any admin route.
   */
  const withToken = async (req: Request, res: Response): Promise<boolean> => {
    if (req.get('authorization') === undefined) return false;
    await requireAdmin(req, res);
    return true;
  };

  app.get('/api/health', (_req, res) => {
    res.json({ ok: true, protocolVersion: PROTOCOL_VERSION, uptimeS: Math.round((Date.now() - started) / 1000), ...hub.health() });
  });

  // Where a tab can go when its hub is gone: the hubs whose heartbeat Redis holds (a hub alone lists itself).
  app.get('/api/hubs', async (_req, res) => {
    // Public (where hubs are, nothing about tabs): a page another hub served reads it when its own hub went away.
    res.set({ 'Cache-Control': 'no-store', 'Access-Control-Allow-Origin': '*' }).json(await hub.hubs());
  });

  // Who is connected, what each did in which round: the admin's alone, in every run.
  app.get('/api/participants', async (req, res) => {
    await requireAdmin(req, res);
    res.json(await hub.participants());
  });

  app.get('/api/runs', async (_req, res) => {
    res.json(await hub.runs());
  });

  // The latest run's (ε, δ) so far, public: tabs show it. Cached per run update, as every tab polls it.
  let guarantee: { key: string; value: RunGuarantee | null } | null = null;
  app.get('/api/privacy', async (_req, res) => {
    const latest = await hub.latestRun();
    const key = latest ? `${latest.id}/${latest.updatedAt}/${latest.completedRounds}/${latest.status}` : '';
    if (guarantee?.key !== key) guarantee = { key, value: latest ? runGuarantee(latest, await hub.rounds(latest.id)) : null };
    res.set('Cache-Control', 'no-store').json(guarantee.value);
  });

  const runOf = async (id: string): Promise<RunSummary> => {
    const run = await hub.run(id);
    if (!run) throw new HttpError(404, `no run ${id}`, 'not-found');
    return run;
  };

  // Without the token: no participant ids or failures; a private run also hides the counts (publicRound).
  app.get('/api/runs/:id', async (req, res) => {
    const run = await runOf(req.params.id);
    const admin = await withToken(req, res);
    const rounds = await hub.rounds(run.id);
    res.json({ ...run, ...federation(run.config), rounds: admin ? rounds : rounds.map((r) => publicRound(r, !!run.config.privacy)) });
  });

  app.get('/api/runs/:id/rounds.csv', async (req, res) => {
    const run = await runOf(req.params.id);
    const admin = await withToken(req, res);
    const rounds = await hub.rounds(run.id);
    res
      .type('text/csv')
      .attachment(`${run.id}-rounds.csv`)
      .send(roundsCsv(rounds.map((r) => publicRound(r, !admin && !!run.config.privacy))));
  });

  app.post('/api/runs', async (req, res) => {
    await requireAdmin(req, res);
    res.status(201).json(dataOf(await hub.startRun(req.body)));
  });

  app.delete('/api/runs/:id', async (req, res) => {
    await requireAdmin(req, res);
    dataOf(await hub.deleteRun(req.params.id));
    res.status(204).end();
  });

  app.post('/api/runs/:id/stop', async (req, res) => {
    await requireAdmin(req, res);
    res.json(dataOf(await hub.stopRun(req.params.id)));
  });

  app.post('/api/runs/:id/resume', async (req, res) => {
    await requireAdmin(req, res);
    res.json(dataOf(await hub.resumeRun(req.params.id)));
  });

  // The current global model in TF.js LayersModel format; weights.bin resolves relative to model.json. Always the
  // full model: under a personal head (fedrep, fedper) the hub holds only the body, so the export appends the fresh
  // head a newcomer starts from (core's freshHead: zero output layer), to be fitted on local data before use.
  let exported: { key: string; files: LayersModelFiles } | null = null;
  const modelFiles = async (): Promise<LayersModelFiles> => {
    const model = await hub.currentModel();
    if (!model) throw new HttpError(404, 'no model yet: start a run first', 'not-found');
    const key = `${model.runId}/${model.modelVersion}`;
    // A Keras model has no place for Meta-SGD's learned rates: the export holds the weights alone.
    const { weights } = localModel(model.config.model, model.config.algorithm, model.weights, null);
    if (exported?.key !== key) exported = { key, files: await exportLayersModel(model.config.model, weights, 'weights.bin') };
    return exported.files;
  };
  // What a tab needs to adapt the current model itself: the spec and hyper-parameters behind weights.bin, and how many
  // of its parameters the run federates (sharedParameters) and keeps on each participant (headParameters).
  app.get('/api/model/info', async (_req, res) => {
    const model = await hub.currentModel();
    if (!model) throw new HttpError(404, 'no model yet: start a run first', 'not-found');
    res.set('Cache-Control', 'no-store').json({
      runId: model.runId,
      modelVersion: model.modelVersion,
      model: model.config.model,
      algorithm: model.config.algorithm,
      client: model.config.client,
      parameters: parameterCount(model.config.model),
      ...federation(model.config),
    });
  });
  app.get('/api/model/model.json', async (_req, res) => {
    const files = await modelFiles();
    res.set('Cache-Control', 'no-store').json(files.modelJson);
  });
  app.get('/api/model/weights.bin', async (_req, res) => {
    const files = await modelFiles();
    res
      .set('Cache-Control', 'no-store')
      .type('application/octet-stream')
      .send(Buffer.from(files.weightsBin.buffer, files.weightsBin.byteOffset, files.weightsBin.byteLength));
  });

  // A Meta-SGD run's learned per-weight learning rates, float32 in weights.bin's order: a tab adapts with them.
  app.get('/api/model/rates.bin', async (_req, res) => {
    const model = await hub.currentModel();
    if (!model) throw new HttpError(404, 'no model yet: start a run first', 'not-found');
    const { rates } = splitFederated(model.config.model, model.config.algorithm, model.weights);
    if (!rates) throw new HttpError(404, `${model.config.algorithm} learns no rates: adapt at the run's innerLr`, 'not-found');
    res
      .set('Cache-Control', 'no-store')
      .type('application/octet-stream')
      .send(Buffer.from(rates.buffer, rates.byteOffset, rates.byteLength));
  });

  app.get('/data/mnist.bin', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=86400').sendFile(DEFAULT_MNIST_PATH);
  });

  app.use('/api', (req) => {
    throw new HttpError(404, `no API route ${req.method} ${req.originalUrl}`, 'not-found');
  });

  const webRoot = options.webRoot;
  if (webRoot && existsSync(join(webRoot, 'index.html'))) {
    // serve-static redirects /admin to /admin/ itself (an express route for it would also match /admin/).
    app.use(express.static(webRoot, { index: 'index.html' }));
  } else {
    app.get('/', (_req, res) => {
      res.type('text/plain').send('Tabula hub: the web app is not built (run `npm start`, which builds it). The API is at /api/health.');
    });
  }

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof HttpError)
      return res.status(error.status).json({ error: error.message, ...(error.code ? { code: error.code } : {}) });
    // body-parser's errors carry a type; the router's failure to decode a %-escaped path segment is a URIError.
    const { status, type, charset, encoding, expose } = error as {
      status?: unknown;
      type?: unknown;
      charset?: unknown;
      encoding?: unknown;
      expose?: unknown;
    };
    const message = error instanceof Error ? error.message : String(error);
    if (type === 'entity.parse.failed') return res.status(400).json({ error: `invalid JSON body: ${message}` });
    if (type === 'entity.too.large') return res.status(413).json({ error: 'request body too large' });
    if (type === 'charset.unsupported')
      return res.status(415).json({ error: `unsupported body charset "${String(charset).toUpperCase()}": send JSON in UTF-8` });
    if (type === 'encoding.unsupported')
      return res
        .status(415)
        .json({ error: `unsupported Content-Encoding "${String(encoding)}": send the body as is, or gzip, deflate or br` });
    if (error instanceof URIError && status === 400)
      return res.status(400).json({ error: `invalid URL ${req.originalUrl.slice(0, 200)}: malformed %-escape` });
    if (typeof status === 'number' && status >= 400 && status < 500 && expose === true) return res.status(status).json({ error: message });
    res.status(500).json({ error: `internal error: ${message}` });
  });
  return app;
}
