/**
 * RegisterTarget: a target (a Mosquitto broker first) and the admin credentials of its management
 * API. Decided first without writing, so a conflicting registration never touches the target or
 * the secret store; then connected (refused when the target refuses the credentials), the secret
 * stored outside the log, and TargetRegistered recorded with a reference to it.
 */
import { Inject, Injectable } from '@nestjs/common';
import type { CommandOf, RegisterTarget, ResultOf } from '@tunnelkey/contracts';
import { describeError } from '@tunnelkey/errors';
import { metadataOf } from '@tunnelkey/eventstore';
import type { TargetCommand } from '../deciders/target.decider.js';
import { OnboardingCommandRejected } from '../errors.js';
import { credentialsRefOf, type TargetCredentialStore } from '../shared/target-credentials.js';
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
    if (kind !== 'mosquitto')
      throw new OnboardingCommandRejected('unsupported-target-kind', `target kind ${kind} has no adapter yet`, {
        kind,
      });
    const credentialsRef = credentialsRefOf(targetId);
    const registration = { targetId, kind, name, host, tlsPort, credentialsRef };
    const credentials = {
      username: admin.username,
      password: admin.password,
      ...(admin.port ? { port: admin.port } : {}),
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
