/** The revocation service's Nest module: binds its ports, lists its view, handlers and controllers. No logic. */
import { Module, type DynamicModule } from '@nestjs/common';
import { viewProvider } from '@tunnelkey/messaging';
import { pino, type Logger } from 'pino';
import type { RevocationConfig } from './config.js';
import { RevocationDeadlineHandler } from './revocation-deadline/revocation-deadline.handler.js';
import { RevocationDeadlineJob } from './revocation-deadline/revocation-deadline.job.js';
import { RevocationSagaHandler } from './revocation-saga/revocation-saga.handler.js';
import { RevocationSagaReaction } from './revocation-saga/revocation-saga.reaction.js';
import { IntegrityViolationsReaction } from './integrity-revocations/integrity-violations.reaction.js';
import { RevocationStatusHttpController } from './revocation-status/revocation-status.http-controller.js';
import { RevocationStatusMsController } from './revocation-status/revocation-status.ms-controller.js';
import { RevokeDevicesHandler } from './revoke-devices/revoke-devices.handler.js';
import { RevokeDevicesMsController } from './revoke-devices/revoke-devices.ms-controller.js';
import { CLOCK, REVOCATION_CONFIG, REVOCATION_LOGGER, STEP_LISTENER, type Clock, type StepListener } from './tokens.js';
import { RevocationStatusView } from './views/revocation-status.view.js';

export interface RevocationModuleOptions {
  config: RevocationConfig;
  clock?: Clock;
  logger?: Logger;
  /** Called after each recorded step (metrics, tests). */
  onStep?: StepListener;
}

/** `RevocationModule.forRoot(options)` inside startService({ service: 'revocation', ... }), which binds EVENT_STORE. */
@Module({})
export class RevocationModule {
  static forRoot(options: RevocationModuleOptions): DynamicModule {
    return {
      module: RevocationModule,
      controllers: [RevokeDevicesMsController, RevocationStatusMsController, RevocationStatusHttpController],
      providers: [
        { provide: REVOCATION_CONFIG, useValue: options.config },
        { provide: CLOCK, useValue: options.clock ?? (() => new Date()) },
        {
          provide: REVOCATION_LOGGER,
          useValue: options.logger ?? pino({ name: 'revocation', level: options.config.logLevel }),
        },
        { provide: STEP_LISTENER, useValue: options.onStep ?? (() => undefined) },
        // Rebuilt before anything takes traffic: the command transport may listen before init hooks run.
        viewProvider(RevocationStatusView, { logger: REVOCATION_LOGGER }),
        RevokeDevicesHandler,
        RevocationSagaHandler,
        RevocationSagaReaction,
        IntegrityViolationsReaction,
        RevocationDeadlineHandler,
        RevocationDeadlineJob,
      ],
      exports: [RevocationStatusView, RevocationSagaReaction, RevocationDeadlineJob],
    };
  }
}
