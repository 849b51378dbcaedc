/**
 * A participant's identity: the id the hub gave it and the secret that proves it (ids are public; the hub names
 * them in every round). A tab keeps them in its storage (apps/web identity.ts); a Node participant in memory.
 */
export interface ParticipantCredentials {
  readonly id: string | null;
  readonly secret: string | null;
  /** The hub's Welcome named this participant's id and secret: keep them for the next hello. */
  adopt(id: string, secret: string): void | Promise<void>;
  /** The hub says the id belongs to another participant: drop it, so the next hello asks for a new one. */
  forget(): void;
}

/** Credentials that last as long as the process: a new process is a new participant. */
export class MemoryCredentials implements ParticipantCredentials {
  private current: { id: string | null; secret: string | null };

  /** `id` without a secret claims an id the hub does not know yet (a test's or a restarted hub's). */
  constructor(id: string | null = null) {
    this.current = { id, secret: null };
  }

  get id(): string | null {
    return this.current.id;
  }

  get secret(): string | null {
    return this.current.secret;
  }

  adopt(id: string, secret: string): void {
    this.current = { id, secret };
  }

  forget(): void {
    this.current = { id: null, secret: null };
  }
}
