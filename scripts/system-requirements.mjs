// The programs outside npm that `npm test` needs (the browser tests, `npm run simulate` and the Chromium
// benchmarks too), and how setup gets them: installed with apt-get when it runs as root where apt-get exists,
// otherwise it stops at once with the one command that would install them. Plain JavaScript: it runs before
// anything is installed.

/**
 * @typedef {object} SystemRequirement
 * @property {string} name         what the user would call it
 * @property {string} neededBy     who needs it, as the start of a sentence's subject ("the browser tests")
 * @property {string} defaultPath  the executable the Debian package installs
 * @property {string} envVar       names another location instead (the tests read the same variable)
 * @property {string} aptPackage   the Debian package that provides defaultPath
 */

/** @type {readonly SystemRequirement[]} */
export const SYSTEM_REQUIREMENTS = [
  // Playwright's own browser download cannot work here; playwright.config.ts launches this one.
  { name: 'Chromium', neededBy: 'the browser tests', defaultPath: '/usr/bin/chromium', envVar: 'CHROMIUM_PATH', aptPackage: 'chromium' },
  // The multi-hub tests start their own servers on free loopback ports (apps/server/src/local-services.ts).
  {
    name: 'Redis',
    neededBy: 'the multi-hub tests',
    defaultPath: '/usr/bin/redis-server',
    envVar: 'REDIS_SERVER_PATH',
    aptPackage: 'redis-server',
  },
  {
    name: 'PostgreSQL 15',
    neededBy: 'the multi-hub tests',
    defaultPath: '/usr/lib/postgresql/15/bin/initdb',
    envVar: 'TABULA_INITDB',
    aptPackage: 'postgresql-15',
  },
];

/**
 * @typedef {object} Machine
 * @property {(path: string) => boolean} exists  whether an executable is at the path
 * @property {Readonly<Record<string, string | undefined>>} env
 * @property {boolean} isRoot
 * @property {boolean} hasAptGet
 */

/**
 * @typedef {{ action: 'ok' } | { action: 'install', packages: string[] } | { action: 'instruct', message: string }} SystemPlan
 */

/**
 * What setup does about the requirements on this machine. Pure: the machine's facts come in `machine`.
 * @param {readonly SystemRequirement[]} requirements
 * @param {Machine} machine
 * @returns {SystemPlan}
 */
export function planSystemSetup(requirements, machine) {
  const missing = requirements
    .map((requirement) => ({ requirement, path: machine.env[requirement.envVar] ?? requirement.defaultPath }))
    .filter(({ path }) => !machine.exists(path));
  if (missing.length === 0) return { action: 'ok' };
  // apt-get installs to the package's own path, so it cannot satisfy a location the user chose.
  const elsewhere = missing.find(({ requirement }) => machine.env[requirement.envVar] !== undefined);
  if (elsewhere) {
    const { requirement: r, path } = elsewhere;
    return {
      action: 'instruct',
      message: `setup: ${r.neededBy} need ${r.name} at ${r.envVar}=${path}, and there is none: point ${r.envVar} at ${r.name}, or unset it to use ${r.defaultPath}`,
    };
  }
  const packages = missing.map(({ requirement }) => requirement.aptPackage);
  if (machine.isRoot && machine.hasAptGet) return { action: 'install', packages };
  const needs = missing.map(({ requirement: r, path }) => `${r.neededBy} need ${r.name} at ${path} (or set ${r.envVar})`).join('; ');
  const command = `${machine.isRoot ? '' : 'sudo '}apt-get install -y ${packages.join(' ')}`;
  const how = machine.hasAptGet
    ? `run \`${command}\``
    : `install ${packages.join(', ')} with your system's package manager (Debian: \`${command}\`)`;
  return { action: 'instruct', message: `setup: ${needs}: ${how}` };
}
