/** What a device onboarded to a target is sent (its connection-parameters downlink body). */
import type { ConnectionParametersMessage, DeviceBodyOf } from '@tunnelkey/contracts';
import type { OnboardingTarget, RegisteredDevice } from '../target-port/onboarding-target.js';

export function connectionParametersOf(
  target: OnboardingTarget,
  device: RegisteredDevice,
  clientCertificatePem: string,
  serverCaPem: string | undefined,
): DeviceBodyOf<typeof ConnectionParametersMessage> {
  return {
    targetId: target.targetId,
    ...target.connectionParameters(device),
    ...(serverCaPem ? { serverCaPem } : {}),
    clientCertificatePem,
  };
}
