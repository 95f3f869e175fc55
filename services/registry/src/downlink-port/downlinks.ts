import { RejectionMessage, type DeviceBodyOf, type DeviceMessageDefinition } from '@tunnelkey/contracts';

/** Platform -> device messages, signed with the platform key, to the device's inbox. */
export interface Downlinks {
  send<M extends DeviceMessageDefinition>(definition: M, deviceId: string, body: DeviceBodyOf<M>): Promise<void>;
}

/** Tells a device which of its messages was refused and why (a reason code, never its content). */
export function sendRejection(
  downlinks: Downlinks,
  deviceId: string,
  inReplyTo: { kind: string; counter: number },
  code: string,
  message?: string,
): Promise<void> {
  return downlinks.send(RejectionMessage, deviceId, {
    inReplyTo,
    code,
    ...(message ? { message: message.slice(0, 500) } : {}),
  });
}
