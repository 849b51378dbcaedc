// Installs the workspace with the pinned pnpm, so that `npm test` and `npm start` work on a machine
// that has only Node and npm. Cheap when everything is already installed.
//   node scripts/setup.mjs            the workspace (npm start, npm run build, ...)
//   node scripts/setup.mjs --system   first the programs outside npm that the tests need (system-requirements.mjs)
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SYSTEM_REQUIREMENTS, planSystemSetup } from './system-requirements.mjs';

const PNPM = 'pnpm@12.4.2';

const unknown = process.argv.slice(2).filter((arg) => arg !== '--system');
if (unknown.length > 0) fail(`setup: unknown argument ${unknown.join(' ')} (the only one is --system)`);
// Before the workspace install: a missing program is reported at once, not after minutes of building.
if (process.argv.includes('--system')) ensureSystemRequirements();
installWorkspace();

function installWorkspace() {
  const env = { ...process.env };
  // node-gyp (better-sqlite3) must build against the installed Node headers: nothing can be downloaded.
  if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';
  run('npx', ['--yes', PNPM, 'install', '--frozen-lockfile', '--reporter=silent'], env, 'inherit');
}

function ensureSystemRequirements() {
  const machine = { exists: executable, env: process.env, isRoot: process.getuid?.() === 0, hasAptGet: onPath('apt-get') };
  const plan = planSystemSetup(SYSTEM_REQUIREMENTS, machine);
  switch (plan.action) {
    case 'ok':
      return;
    case 'instruct':
      return fail(plan.message);
    case 'install': {
      console.log(`setup: installing ${plan.packages.join(' ')} for the tests (apt-get)`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      // apt-get's progress goes to stdout; its errors still reach the user on stderr.
      /** @type {import('node:child_process').StdioOptions} */
      const quiet = ['ignore', 'ignore', 'inherit'];
      run('apt-get', ['update', '-qq'], env, quiet);
      run('apt-get', ['install', '-y', '-qq', ...plan.packages], env, quiet);
      const after = planSystemSetup(SYSTEM_REQUIREMENTS, machine);
      if (after.action !== 'ok') fail(`setup: apt-get installed ${plan.packages.join(' ')}, yet the tests' programs are still missing`);
    }
  }
}

/** @param {string} path */
function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** @param {string} name */
function onPath(name) {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && executable(join(dir, name)));
}

/**
 * @param {string} command
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @param {import('node:child_process').StdioOptions} stdio
 */
function run(command, args, env, stdio) {
  const result = spawnSync(command, args, { stdio, env });
  if (result.status !== 0)
    fail(
      `setup: "${command} ${args.join(' ')}" failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`}).`,
      result.status ?? 1,
    );
}

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message, status = 1) {
  console.error(message);
  process.exit(status);
}
