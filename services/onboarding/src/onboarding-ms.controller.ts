/** Operator commands of onboarding over NATS request/reply (errors become replies in messaging's one filter). */
import { Controller, Inject } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { OnboardBatch, OnboardDevice, RegisterTarget, type ResultOf } from '@tunnelkey/contracts';
import { OnboardingRuntime } from './onboarding-runtime.js';
import { ONBOARDING_RUNTIME } from './tokens.js';

@Controller()
export class OnboardingMsController {
  constructor(@Inject(ONBOARDING_RUNTIME) private readonly onboarding: OnboardingRuntime) {}

  @MessagePattern(RegisterTarget.subject())
  registerTarget(@Payload() payload: unknown): Promise<ResultOf<typeof RegisterTarget>> {
    return this.onboarding.registerTarget(RegisterTarget.parse(payload));
  }

  /** Replies once the batch is validated and under way; DeviceOnboarded / DeviceOnboardingFailed follow as events. */
  @MessagePattern(OnboardBatch.subject())
  async onboardBatch(@Payload() payload: unknown): Promise<ResultOf<typeof OnboardBatch>> {
    const { devices } = await this.onboarding.onboardBatch(OnboardBatch.parse(payload));
    return { devices };
  }

  @MessagePattern(OnboardDevice.subject())
  async onboardDevice(@Payload() payload: unknown): Promise<ResultOf<typeof OnboardDevice>> {
    const { devices } = await this.onboarding.onboardDevice(OnboardDevice.parse(payload));
    return { devices };
  }
}
