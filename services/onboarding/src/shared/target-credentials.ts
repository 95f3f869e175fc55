/**
 * Where target admin credentials live: outside the event log (events carry only `credentialsRef`).
 * A port, so a deployment can back it with a secret manager; the in-memory store serves tests and
 * the single-process demo, where the operator registers targets again after a restart.
 */
export interface TargetCredentials {
  username: string;
  password: string;
  /** Admin listener port when it differs from the device listener. */
  port?: number;
}

export interface TargetCredentialStore {
  put(ref: string, credentials: TargetCredentials): Promise<void>;
  get(ref: string): Promise<TargetCredentials | undefined>;
}

export class InMemoryTargetCredentialStore implements TargetCredentialStore {
  readonly #secrets = new Map<string, TargetCredentials>();
  async put(ref: string, credentials: TargetCredentials): Promise<void> {
    this.#secrets.set(ref, { ...credentials });
  }
  async get(ref: string): Promise<TargetCredentials | undefined> {
    const found = this.#secrets.get(ref);
    return found ? { ...found } : undefined;
  }
}

export const credentialsRefOf = (targetId: string): string => `target-${targetId}`.slice(0, 128);
