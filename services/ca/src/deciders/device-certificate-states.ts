import { Injectable } from '@nestjs/common';
import { AggregateStateCache } from '@tunnelkey/eventstore';
import {
  deviceCertificatesDecider,
  deviceCertificatesStream,
  type DeviceCertificatesState,
} from './device-certificates.decider.js';

/**
 * handleCommand's state cache for device streams (`ca.device.<deviceId>`), one per CA instance and
 * shared by every slice that appends there: CertifyDevices records a CSR request, then issuance
 * records the answer on the version the request left, without reading the stream first. A device
 * this instance holds nothing of is guessed new (a wrong guess costs one refused append and a load).
 */
@Injectable()
export class DeviceCertificateStates {
  readonly #cache = new AggregateStateCache<DeviceCertificatesState>({ maxStreams: 20_000 });

  /** The cache, holding an entry for the device (what this instance wrote last, else an empty stream). */
  for(deviceId: string): AggregateStateCache<DeviceCertificatesState> {
    return this.#cache.assumeNew(deviceCertificatesStream(deviceId), deviceCertificatesDecider.initialState);
  }
}
