/**
 * The hub's data directory: checked to be usable, and owned by one hub process at a time.
 *
 * The authority for ownership is the SQLite store's exclusive lock (see openStore): the kernel drops it when the
 * process ends, even by kill -9, so a crashed hub never blocks the next start, and no pid is ever trusted (a pid
 * file alone breaks when pids are reused, or when two containers share the directory and each hub is pid 1).
 * OWNER_FILE only names the holder in the refusal; it is written once the lock is held.
 */
import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StoreLockedError, openStore, type Store, type StoreOptions } from './store.js';

const STORE_FILE = 'tabula.sqlite';
const OWNER_FILE = 'owner.json';

interface Owner {
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

/** The directory cannot be used (`reason` says why), or another process holds it (`inUse`). */
export class DataDirError extends Error {
  constructor(
    readonly dataDir: string,
    readonly reason: string,
    readonly inUse = false,
  ) {
    super(inUse ? `data directory ${dataDir} is ${reason}` : `data directory ${dataDir}: ${reason}`);
  }
}

/** Creates the directory if needed, takes it for this process and opens its store. Throws DataDirError. */
export function openDataDir(dataDir: string, options: StoreOptions = {}): Store {
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new DataDirError(dataDir, 'it is a file, not a directory');
    if (code === 'ENOTDIR') throw new DataDirError(dataDir, 'a part of its path is a file, not a directory');
    throw new DataDirError(dataDir, `cannot create it (${describe(e)})`);
  }
  if (!statSync(dataDir).isDirectory()) throw new DataDirError(dataDir, 'it is not a directory');
  // A probe gives a read-only directory its plain reason; SQLite would say "unable to open database file".
  const probe = join(dataDir, `.write-test-${process.pid}`);
  try {
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (e) {
    throw new DataDirError(dataDir, `it is not writable (${describe(e)})`);
  }

  let store: Store;
  try {
    store = openStore(join(dataDir, STORE_FILE), options);
  } catch (e) {
    if (e instanceof StoreLockedError) throw new DataDirError(dataDir, `in use by ${holder(dataDir)}`, true);
    throw e;
  }
  const owner = join(dataDir, OWNER_FILE);
  try {
    // via a rename, so a hub refused at this moment never reads half a file
    writeFileSync(
      `${owner}.tmp`,
      `${JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() } satisfies Owner)}\n`,
    );
    renameSync(`${owner}.tmp`, owner);
  } catch (e) {
    store.close();
    throw new DataDirError(dataDir, `it is not writable (${describe(e)})`);
  }
  return {
    ...store,
    close() {
      // before the lock goes: once it has, the file may already be the next hub's
      try {
        unlinkSync(owner);
      } catch {
        // already gone: it only ever serves a message
      }
      store.close();
    },
  };
}

/** Names whoever holds the lock, as far as the owner file can tell. */
function holder(dataDir: string): string {
  let owner: Partial<Owner>;
  try {
    owner = JSON.parse(readFileSync(join(dataDir, OWNER_FILE), 'utf8')) as Partial<Owner>;
  } catch {
    return 'another process';
  }
  if (typeof owner.pid !== 'number' || typeof owner.startedAt !== 'string') return 'another process';
  const here = owner.host === hostname();
  // A hub that died left its file behind; the lock is then some other program's (an sqlite3 shell, say).
  if (here && !alive(owner.pid)) return 'another process';
  return `another hub (pid ${owner.pid}${here ? '' : ` on ${String(owner.host)}`}, started ${owner.startedAt})`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** "permission denied, EACCES" from Node's "EACCES: permission denied, open '/x/y'". */
function describe(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const code = (e as NodeJS.ErrnoException).code;
  const words = /^[A-Z]+: ([^,]+)/.exec(text)?.[1];
  return code && words ? `${words}, ${code}` : text;
}
