/**
 * OnboardBatch and OnboardDevice on `cmd.onboarding.*`: the reply comes once the run is validated
 * and under way; DeviceOnboarded / DeviceOnboardingFailed follow as events.
 */
import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { OnboardBatch, OnboardDevice, type ResultOf } from '@tunnelkey/contracts';
import { OnboardDevicesHandler } from './onboard-devices.handler.js';

@Controller()
export class OnboardDevicesMsController {
  constructor(private readonly handler: OnboardDevicesHandler) {}

  @MessagePattern(OnboardBatch.subject())
  async onboardBatch(@Payload() payload: unknown): Promise<ResultOf<typeof OnboardBatch>> {
    const { devices } = await this.handler.onboardBatch(OnboardBatch.parse(payload));
    return { devices };
  }

  @MessagePattern(OnboardDevice.subject())
  async onboardDevice(@Payload() payload: unknown): Promise<ResultOf<typeof OnboardDevice>> {
    const { devices } = await this.handler.onboardDevice(OnboardDevice.parse(payload));
    return { devices };
  }
}
