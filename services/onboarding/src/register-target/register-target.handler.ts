/**
 * RegisterTarget: a target (a Mosquitto broker first) and the admin credentials of its management
 * API. The password never travels on the bus: the command names its file in the mounted secrets
 * directory (`admin.passwordFile`); a plain `admin.password` is refused. Decided first without
 * writing, so a conflicting registration never touches the target or the credential store; then
 * connected (refused when the target refuses the credentials, the working connection kept), the
 * reference stored outside the log, and TargetRegistered recorded with a reference to that.
 */
import { Inject, Injectable } from '@nestjs/common';
import { defaultOwnerId, type CommandOf, type RegisterTarget, type ResultOf } from '@tunnelkey/contracts';
import { describeError } from '@tunnelkey/errors';
import { metadataOf } from '@tunnelkey/eventstore';
import type { TargetCommand } from '../deciders/target.decider.js';
import { OnboardingCommandRejected, TargetSecretUnavailableError } from '../errors.js';
import { credentialsRefOf, type TargetCredentials, type TargetCredentialStore } from '../shared/target-credentials.js';
import { TargetWriter } from '../shared/target-writer.js';
import { ConnectedTargets } from '../target-port/connected-targets.js';
import { CLOCK, TARGET_CREDENTIALS, type Clock } from '../tokens.js';
import { TargetsView } from '../views/targets.view.js';

@Injectable()
export class RegisterTargetHandler {
  constructor(
    private readonly writer: TargetWriter,
    private readonly connected: ConnectedTargets,
    private readonly targets: TargetsView,
    @Inject(TARGET_CREDENTIALS) private readonly credentials: TargetCredentialStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async handle(command: CommandOf<typeof RegisterTarget>): Promise<ResultOf<typeof RegisterTarget>> {
    const { targetId, kind, name, host, tlsPort, admin } = command;
    const ownerId = command.ownerId ?? defaultOwnerId;
    if (admin.password !== undefined)
      throw new OnboardingCommandRejected(
        'plaintext-secret-refused',
        'admin.password is refused: it would cross the bus in plain text; mount the password as a file in the secrets directory and send admin.passwordFile',
        { targetId },
      );
    if (admin.passwordFile === undefined)
      throw new OnboardingCommandRejected('missing-password-file', 'admin.passwordFile names no secret file', {
        targetId,
      });
    if (kind !== 'mosquitto')
      throw new OnboardingCommandRejected('unsupported-target-kind', `target kind ${kind} has no adapter yet`, {
        kind,
      });
    const credentialsRef = credentialsRefOf(targetId);
    const registration = { targetId, kind, name, host, tlsPort, credentialsRef, ownerId };
    const credentials: TargetCredentials = {
      username: admin.username,
      passwordFile: admin.passwordFile,
      ...(admin.host ? { host: admin.host } : {}),
      ...(admin.port ? { port: admin.port } : {}),
      ...(admin.tls ? { tls: { caPem: admin.tls.caPem } } : {}),
    };
    const decision: TargetCommand = {
      type: 'RegisterTarget',
      data: registration,
      metadata: metadataOf(command, this.clock()),
    };
    await this.writer.check(targetId, decision);
    try {
      await this.connected.connect(registration, credentials);
    } catch (error) {
      if (error instanceof TargetSecretUnavailableError)
        throw new OnboardingCommandRejected('secret-unavailable', error.message, { targetId });
      const message = `target ${targetId} admin API cannot be reached with these credentials`;
      throw new OnboardingCommandRejected('target-unreachable', message, {
        targetId,
        cause: describeError(error).slice(0, 200),
      });
    }
    await this.credentials.put(credentialsRef, credentials);
    await this.writer.record(targetId, decision);
    // Onboarding right after the reply must find the target.
    await this.targets.catchUp();
    return { targetId };
  }
}
