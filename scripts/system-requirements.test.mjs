// node:test, not Vitest: these scripts run before the workspace (and Vitest) is installed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planSystemSetup } from './system-requirements.mjs';

/** @type {import('./system-requirements.mjs').SystemRequirement} */
const CHROMIUM = {
  name: 'Chromium',
  neededBy: 'the browser tests',
  defaultPath: '/usr/bin/chromium',
  envVar: 'CHROMIUM_PATH',
  aptPackage: 'chromium',
};
/** @type {import('./system-requirements.mjs').SystemRequirement} */
const REDIS = {
  name: 'Redis',
  neededBy: 'the hub tests',
  defaultPath: '/usr/bin/redis-server',
  envVar: 'REDIS_SERVER_PATH',
  aptPackage: 'redis-server',
};

/** @param {{ present?: string[], env?: Record<string, string>, isRoot?: boolean, hasAptGet?: boolean }} facts */
function machine({ present = [], env = {}, isRoot = false, hasAptGet = true }) {
  return { exists: (/** @type {string} */ path) => present.includes(path), env, isRoot, hasAptGet };
}

test('nothing to do when every program is where the tests look', () => {
  // Prepare / Execute
  const plan = planSystemSetup([CHROMIUM, REDIS], machine({ present: ['/usr/bin/chromium', '/usr/bin/redis-server'] }));
  // Assert
  assert.deepEqual(plan, { action: 'ok' });
});

test('root with apt-get installs every missing package in one go', () => {
  const plan = planSystemSetup([CHROMIUM, REDIS], machine({ isRoot: true }));
  assert.deepEqual(plan, { action: 'install', packages: ['chromium', 'redis-server'] });
});

test('root with apt-get installs only what is missing', () => {
  const plan = planSystemSetup([CHROMIUM, REDIS], machine({ present: ['/usr/bin/chromium'], isRoot: true }));
  assert.deepEqual(plan, { action: 'install', packages: ['redis-server'] });
});

test('a user who is not root is told the one sudo command', () => {
  const plan = planSystemSetup([CHROMIUM], machine({ isRoot: false }));
  assert.deepEqual(plan, {
    action: 'instruct',
    message: 'setup: the browser tests need Chromium at /usr/bin/chromium (or set CHROMIUM_PATH): run `sudo apt-get install -y chromium`',
  });
});

test('several missing programs are named together with one command', () => {
  const plan = planSystemSetup([CHROMIUM, REDIS], machine({ isRoot: false }));
  assert.deepEqual(plan, {
    action: 'instruct',
    message:
      'setup: the browser tests need Chromium at /usr/bin/chromium (or set CHROMIUM_PATH); the hub tests need Redis at /usr/bin/redis-server (or set REDIS_SERVER_PATH): run `sudo apt-get install -y chromium redis-server`',
  });
});

test('without apt-get, even root is told what to install instead of setup guessing a package manager', () => {
  const plan = planSystemSetup([CHROMIUM], machine({ isRoot: true, hasAptGet: false }));
  assert.deepEqual(plan, {
    action: 'instruct',
    message:
      "setup: the browser tests need Chromium at /usr/bin/chromium (or set CHROMIUM_PATH): install chromium with your system's package manager (Debian: `apt-get install -y chromium`)",
  });
});

test('a location chosen through the environment is checked there and never installed over', () => {
  const env = { CHROMIUM_PATH: '/opt/chrome/chrome' };
  assert.deepEqual(planSystemSetup([CHROMIUM], machine({ env, present: ['/opt/chrome/chrome'] })), { action: 'ok' });
  // The default path existing does not help when the tests will launch the chosen one.
  const plan = planSystemSetup([CHROMIUM], machine({ env, present: ['/usr/bin/chromium'], isRoot: true }));
  assert.deepEqual(plan, {
    action: 'instruct',
    message:
      'setup: the browser tests need Chromium at CHROMIUM_PATH=/opt/chrome/chrome, and there is none: point CHROMIUM_PATH at Chromium, or unset it to use /usr/bin/chromium',
  });
});
