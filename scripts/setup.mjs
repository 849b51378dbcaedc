// Installs the workspace with the pinned pnpm, so that `npm test` and `npm start` work on a machine
// that has only Node and npm. Cheap when everything is already installed.
import { spawnSync } from 'node:child_process';

const PNPM = 'pnpm@12.4.2';
const env = { ...process.env };
// node-gyp (better-sqlite3) must build against the installed Node headers: nothing can be downloaded.
if (!env.npm_config_nodedir) {
  try {
    const { existsSync } = await import('node:fs');
    if (existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
  } catch {}
}
const args = ['--yes', PNPM, 'install', '--frozen-lockfile', '--reporter=silent'];
const result = spawnSync('npx', args, { stdio: 'inherit', env });
if (result.status !== 0) {
  console.error(`setup: "npx ${args.join(' ')}" failed (exit ${result.status ?? result.signal}).`);
  process.exit(result.status ?? 1);
}
