/** Starts the hub: reads the environment, creates it, listens, prints where to go. */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseTrustProxy } from './admin-auth.js';
import { DataDirError } from './data-dir.js';
import { createHub } from './hub.js';
import { LOG_LEVELS, createLogger } from './logger.js';
import { parseAllowedOrigins } from './origins.js';

/** A comma-separated list checked by `parse`, whose error is the one-line message. */
const list = (parse: (value: string) => string[]) =>
  z.string().transform((value, ctx) => {
    try {
      return parse(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      return z.NEVER;
    }
  });

const Env = z.object({
  PORT: z.coerce.number({ message: 'PORT must be a number' }).int('PORT must be an integer').min(0).max(65_535).default(8080),
  TABULA_ADMIN_TOKEN: z.string().min(12, 'TABULA_ADMIN_TOKEN must be at least 12 characters').optional(),
  TABULA_DATA_DIR: z.string().min(1).default('.tabula'),
  /** postgres://user@host:port/database: the hub's record there instead of SQLite in TABULA_DATA_DIR. */
  TABULA_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'TABULA_DATABASE_URL must be a postgres:// URL')
    .optional(),
  /** redis://host:port: hubs sharing it list each other at GET /api/hubs. */
  TABULA_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'TABULA_REDIS_URL must be a redis:// URL')
    .optional(),
  TABULA_HUB_ID: z
    .string()
    .regex(/^[\w.-]{1,64}$/, 'TABULA_HUB_ID must be 1-64 letters, digits, dots, dashes or underscores')
    .optional(),
  TABULA_PUBLIC_URL: z.string().url('TABULA_PUBLIC_URL must be a URL').optional(),
  /** Several hubs: how long a hub's heartbeat and the coordinator lease outlive their last renewal (ms). */
  /** Pace steering: at most this many connected participants at this hub. */
  TABULA_MAX_PARTICIPANTS: z.coerce.number({ message: 'TABULA_MAX_PARTICIPANTS must be a number' }).int().min(1).optional(),
  TABULA_HEARTBEAT_MS: z.coerce.number({ message: 'TABULA_HEARTBEAT_MS must be a number' }).int().min(200).max(60_000).optional(),
  TABULA_LEASE_MS: z.coerce.number({ message: 'TABULA_LEASE_MS must be a number' }).int().min(300).max(60_000).optional(),
  TABULA_HOST: z.string().min(1).default('0.0.0.0'),
  TABULA_ALLOWED_ORIGINS: list(parseAllowedOrigins).optional(),
  TABULA_TRUST_PROXY: list(parseTrustProxy).optional(),
  TABULA_LOG_LEVEL: z.enum(LOG_LEVELS, { message: `TABULA_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  TABULA_LOG_FORMAT: z.enum(['pretty', 'json'], { message: 'TABULA_LOG_FORMAT must be pretty or json' }).default('pretty'),
  TABULA_PARTICIPANT_RETENTION_S: z.coerce
    .number({ message: 'TABULA_PARTICIPANT_RETENTION_S must be a number' })
    .int()
    .min(1)
    .max(30 * 86_400)
    .default(900),
});

const parsed = Env.safeParse(process.env);
if (!parsed.success) {
  for (const issue of parsed.error.issues) console.error(`tabula: invalid environment: ${issue.path.join('.')}: ${issue.message}`);
  process.exit(2);
}
const env = parsed.data;
const generated = !env.TABULA_ADMIN_TOKEN;
const adminToken = env.TABULA_ADMIN_TOKEN ?? randomBytes(18).toString('base64url');
// npm/pnpm run scripts inside the package; INIT_CWD is where the user typed `npm start`.
const dataDir = resolve(process.env.INIT_CWD ?? process.cwd(), env.TABULA_DATA_DIR);
const webRoot = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** One line, like the environment checks: an unusable or taken data directory is not a crash. */
function cannotStart(error: unknown): never {
  if (error instanceof DataDirError && error.inUse) {
    console.error(`tabula: ${error.message}; stop it first or set TABULA_DATA_DIR`);
    process.exit(1);
  }
  if (error instanceof DataDirError) {
    console.error(`tabula: TABULA_DATA_DIR ${error.dataDir}: ${error.reason}`);
    process.exit(2);
  }
  console.error(`tabula: cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

const hub = await createHub({
  ...(env.TABULA_DATABASE_URL ? { databaseUrl: env.TABULA_DATABASE_URL } : { dataDir }),
  adminToken,
  webRoot,
  ...(env.TABULA_REDIS_URL ? { redisUrl: env.TABULA_REDIS_URL } : {}),
  ...(env.TABULA_HUB_ID ? { hubId: env.TABULA_HUB_ID } : {}),
  ...(env.TABULA_PUBLIC_URL ? { publicUrl: env.TABULA_PUBLIC_URL } : {}),
  ...(env.TABULA_MAX_PARTICIPANTS ? { maxParticipants: env.TABULA_MAX_PARTICIPANTS } : {}),
  clusterTimings: {
    ...(env.TABULA_HEARTBEAT_MS ? { heartbeatMs: env.TABULA_HEARTBEAT_MS } : {}),
    ...(env.TABULA_LEASE_MS ? { leaseMs: env.TABULA_LEASE_MS } : {}),
  },
  ...(env.TABULA_ALLOWED_ORIGINS ? { allowedOrigins: env.TABULA_ALLOWED_ORIGINS } : {}),
  ...(env.TABULA_TRUST_PROXY ? { trustProxy: env.TABULA_TRUST_PROXY } : {}),
  logger: createLogger(env.TABULA_LOG_LEVEL, env.TABULA_LOG_FORMAT),
  participantRetentionMs: env.TABULA_PARTICIPANT_RETENTION_S * 1000,
}).catch(cannotStart);
hub.http.listen(env.PORT, env.TABULA_HOST, () => {
  const address = hub.http.address();
  const port = typeof address === 'object' && address ? address.port : env.PORT;
  const where = env.TABULA_DATABASE_URL ? `PostgreSQL at ${new URL(env.TABULA_DATABASE_URL).host}` : dataDir;
  const several =
    env.TABULA_DATABASE_URL && env.TABULA_REDIS_URL ? `, one of several hubs on Redis at ${new URL(env.TABULA_REDIS_URL).host}` : '';
  console.log(`Tabula hub is running (data in ${where}${several})`);
  console.log(`  participant page: http://localhost:${port}/`);
  console.log(`  dashboard:        http://localhost:${port}/admin/`);
  console.log(`  admin token:      ${adminToken}${generated ? '   (generated; set TABULA_ADMIN_TOKEN to keep one)' : ''}`);
});
hub.http.on('error', (error) => {
  console.error(`tabula: cannot listen on port ${env.PORT}: ${error.message}`);
  process.exit(1);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.log(`tabula: ${signal}, closing (a running run resumes at its last completed round on restart)`);
    // Every completed round is already in the store: if closing hangs, exiting loses nothing.
    setTimeout(() => {
      console.error('tabula: closing took over 10 s; exiting anyway');
      process.exit(1);
    }, 10_000).unref();
    void hub.close().then(() => process.exit(0));
  });
}
