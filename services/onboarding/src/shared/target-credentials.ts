/**
 * How to reach each target's admin API: outside the event log (events carry only
 * `credentialsRef`), and holding no secret either, only the name of the file the password is in
 * (TargetSecrets). A port, so a deployment can back it with a database; the in-memory store serves
 * tests and the single-process demo, where the operator registers targets again after a restart.
 */
export interface TargetCredentials {
  username: string;
  /** The secret file (TargetSecrets) holding the admin password. */
  passwordFile: string;
  /** Admin listener host when it differs from the device host. */
  host?: string;
  /** Admin listener port when it differs from the device listener. */
  port?: number;
  /** MQTT over TLS to the admin listener, verified against this CA. */
  tls?: { caPem: string };
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
