import type { OwnDigit } from './own-data.js';

/** The user's own digits, kept in this browser's IndexedDB so a reload keeps them; they are never uploaded. */
const DB_NAME = 'tabula';
const STORE = 'digits';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

export class OwnDigitStore {
  private constructor(private readonly db: IDBDatabase) {}

  static async open(): Promise<OwnDigitStore> {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: 'id' });
    };
    return new OwnDigitStore(await request(req));
  }

  async all(): Promise<OwnDigit[]> {
    const rows = await request(this.db.transaction(STORE, 'readonly').objectStore(STORE).getAll());
    return (rows as OwnDigit[]).filter(isDigit).sort((a, b) => a.createdAt - b.createdAt);
  }

  async add(digit: OwnDigit): Promise<void> {
    await request(this.db.transaction(STORE, 'readwrite').objectStore(STORE).put(digit));
  }

  async remove(id: string): Promise<void> {
    await request(this.db.transaction(STORE, 'readwrite').objectStore(STORE).delete(id));
  }

  async clear(): Promise<void> {
    await request(this.db.transaction(STORE, 'readwrite').objectStore(STORE).clear());
  }
}

function isDigit(row: unknown): row is OwnDigit {
  const d = row as OwnDigit;
  return (
    typeof d?.id === 'string' &&
    Number.isInteger(d.label) &&
    d.label >= 0 &&
    d.label <= 9 &&
    d.pixels instanceof Uint8Array &&
    d.pixels.length === 784
  );
}
