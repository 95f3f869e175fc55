/**
 * Where target admin passwords come from: files the platform team mounts in one directory
 * (ONBOARDING_TARGET_SECRETS_DIR, e.g. a Kubernetes secret volume). A RegisterTarget names the
 * file (`admin.passwordFile`), never the password, so the secret never crosses the bus, sits in no
 * store and is read only when a connection is made. Errors name the file, never its content.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TargetSecretUnavailableError } from '../errors.js';

export interface TargetSecrets {
  /** The secret in the named file (trailing newline removed); throws TargetSecretUnavailableError. */
  read(name: string): Promise<string>;
}

/** A file name, no path: nothing outside the secrets directory can be named. */
export const secretFileNamePattern = /^[A-Za-z0-9_-]{1,128}$/;

const unavailable = (name: string, why: string, cause?: unknown) =>
  new TargetSecretUnavailableError(
    `admin password file ${secretFileNamePattern.test(name) ? name : '(invalid name)'} ${why}`,
    {},
    cause === undefined
      ? undefined
      : { cause: new Error(cause instanceof Error ? cause.message.slice(0, 200) : 'read failed') },
  );

function checked(name: string, secret: string): string {
  const value = secret.replace(/\r?\n$/, '');
  if (value.length === 0 || value.length > 512) throw unavailable(name, 'is empty or longer than 512 characters');
  return value;
}

export class FileTargetSecrets implements TargetSecrets {
  constructor(private readonly dir: string | undefined) {}

  async read(name: string): Promise<string> {
    if (!secretFileNamePattern.test(name)) throw unavailable(name, 'is not a plain file name');
    if (!this.dir) throw unavailable(name, 'cannot be read: ONBOARDING_TARGET_SECRETS_DIR is not set');
    let content: string;
    try {
      content = await readFile(join(this.dir, name), 'utf8');
    } catch (error) {
      throw unavailable(name, 'cannot be read from the secrets directory', error);
    }
    return checked(name, content);
  }
}

/** Tests and the single-process demo: secrets by name, in memory. */
export class InMemoryTargetSecrets implements TargetSecrets {
  readonly #secrets: Map<string, string>;
  constructor(secrets: Record<string, string> = {}) {
    this.#secrets = new Map(Object.entries(secrets));
  }
  set(name: string, secret: string): void {
    this.#secrets.set(name, secret);
  }
  async read(name: string): Promise<string> {
    const found = this.#secrets.get(name);
    if (found === undefined) throw unavailable(name, 'is not there');
    return checked(name, found);
  }
}
