import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROTOCOL_VERSION, exportLayersModel, roundsCsv, type LayersModelFiles } from '@tabula/core';
import { DEFAULT_MNIST_PATH } from '@tabula/core/node';
import express, { type NextFunction, type Request, type Response } from 'express';
import { tokenMatches, type Hub } from './hub.js';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** REST API (JSON errors with a message) + the MNIST asset + the built web app. */
export function createHttpApp(hub: Hub, options: { adminToken: string; webRoot?: string | undefined }): express.Express {
  const app = express();
  const started = Date.now();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '256kb' }));

  const requireAdmin = (req: Request) => {
    const header = req.get('authorization');
    if (!header) throw new HttpError(401, 'admin token required: send "Authorization: Bearer <token>"');
    const match = /^Bearer (.+)$/.exec(header);
    if (!match || !tokenMatches(match[1], options.adminToken)) throw new HttpError(401, 'invalid admin token');
  };

  app.get('/api/health', (_req, res) => {
    const active = hub.active();
    res.json({
      ok: true,
      protocolVersion: PROTOCOL_VERSION,
      uptimeS: Math.round((Date.now() - started) / 1000),
      participants: hub.registry.connected().length,
      activeRun: active ? { id: active.id, completedRounds: active.modelVersion, rounds: active.config.rounds } : null,
    });
  });

  app.get('/api/participants', (_req, res) => {
    res.json(hub.registry.list());
  });

  app.get('/api/runs', (_req, res) => {
    res.json(hub.store.listRuns());
  });

  app.get('/api/runs/:id', (req, res) => {
    const run = hub.store.getRun(req.params.id);
    if (!run) throw new HttpError(404, `no run ${req.params.id}`);
    res.json({ ...run, rounds: hub.store.listRounds(run.id) });
  });

  app.get('/api/runs/:id/rounds.csv', (req, res) => {
    const run = hub.store.getRun(req.params.id);
    if (!run) throw new HttpError(404, `no run ${req.params.id}`);
    res.type('text/csv').attachment(`${run.id}-rounds.csv`).send(roundsCsv(hub.store.listRounds(run.id)));
  });

  app.post('/api/runs', (req, res) => {
    requireAdmin(req);
    const result = hub.startRun(req.body);
    if (!result.ok) throw new HttpError('status' in result ? result.status : 400, result.error);
    res.status(201).json(result.data);
  });

  app.delete('/api/runs/:id', (req, res) => {
    requireAdmin(req);
    const result = hub.deleteRun(req.params.id);
    if (!result.ok) throw new HttpError(result.status, result.error);
    res.status(204).end();
  });

  app.post('/api/runs/:id/stop', async (req, res) => {
    requireAdmin(req);
    const result = await hub.stopRun(req.params.id);
    if (!result.ok) throw new HttpError(hub.store.getRun(req.params.id) ? 409 : 404, result.error);
    res.json(result.data);
  });

  // The current global model in TF.js LayersModel format; weights.bin resolves relative to model.json.
  let exported: { key: string; files: LayersModelFiles } | null = null;
  const modelFiles = async (): Promise<LayersModelFiles> => {
    const model = hub.currentModel();
    if (!model) throw new HttpError(404, 'no model yet: start a run first');
    const key = `${model.runId}/${model.modelVersion}`;
    if (exported?.key !== key) exported = { key, files: await exportLayersModel(model.config.model, model.weights, 'weights.bin') };
    return exported.files;
  };
  // What a tab needs to adapt the current model itself: the spec and hyper-parameters behind weights.bin.
  app.get('/api/model/info', (_req, res) => {
    const model = hub.currentModel();
    if (!model) throw new HttpError(404, 'no model yet: start a run first');
    res.set('Cache-Control', 'no-store').json({ runId: model.runId, modelVersion: model.modelVersion, model: model.config.model, client: model.config.client, parameters: model.weights.length });
  });
  app.get('/api/model/model.json', async (_req, res) => {
    const files = await modelFiles();
    res.set('Cache-Control', 'no-store').json(files.modelJson);
  });
  app.get('/api/model/weights.bin', async (_req, res) => {
    const files = await modelFiles();
    res.set('Cache-Control', 'no-store').type('application/octet-stream').send(Buffer.from(files.weightsBin.buffer, files.weightsBin.byteOffset, files.weightsBin.byteLength));
  });

  app.get('/data/mnist.bin', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=86400').sendFile(DEFAULT_MNIST_PATH);
  });

  app.use('/api', (req) => {
    throw new HttpError(404, `no API route ${req.method} ${req.originalUrl}`);
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

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof HttpError) return res.status(error.status).json({ error: error.message });
    const status = (error as { status?: unknown; type?: unknown }).status;
    if (status === 400 || (error as { type?: unknown }).type === 'entity.parse.failed') {
      return res.status(400).json({ error: `invalid JSON body: ${(error as Error).message}` });
    }
    if (status === 413) return res.status(413).json({ error: 'request body too large' });
    res.status(500).json({ error: `internal error: ${error instanceof Error ? error.message : String(error)}` });
  });
  return app;
}
