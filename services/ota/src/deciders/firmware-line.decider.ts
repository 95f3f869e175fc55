/**
 * One product's firmware line (`ota.firmware.<product>`): the product registered with the version
 * its devices ship with, then each image registered and released (signed) in one decision, so
 * "a version above the current release" and "the next metadata version" are decided under the
 * product's optimistic-concurrency check. Known product = registered with RegisterFirmwareProduct.
 */
import {
  FirmwareImageRegistered,
  FirmwareImageSigned,
  FirmwareProductRegistered,
  type DataOf,
  type EventOf,
} from '@tunnelkey/contracts';
import { CommandRejected, type Command, type Decider, type NewEvent } from '@tunnelkey/eventstore';
import { compareFirmwareVersions } from '@tunnelkey/firmware';

export type ProductData = DataOf<typeof FirmwareProductRegistered>;
export type ImageData = DataOf<typeof FirmwareImageRegistered>;
export type ReleaseData = DataOf<typeof FirmwareImageSigned>;

export type FirmwareLineEvent =
  | EventOf<typeof FirmwareProductRegistered>
  | EventOf<typeof FirmwareImageRegistered>
  | EventOf<typeof FirmwareImageSigned>;

export type FirmwareLineCommand =
  | Command<'RegisterFirmwareProduct', ProductData>
  /** The image checked against the upload, and its signed release: recorded together or not at all. */
  | Command<'ReleaseFirmware', { image: ImageData; release: ReleaseData }>
  /** A released image signed again by a newer signing-key generation (after a rotation), with the next metadata version. */
  | Command<'ResignFirmware', ReleaseData>;

export interface ReleasedImage {
  image: ImageData;
  release?: ReleaseData;
}

export type FirmwareLineState =
  | { status: 'Unknown' }
  | {
      status: 'Registered';
      product: ProductData;
      /** The newest version registered (the baseline before any). */
      currentVersion: string;
      /** The newest targets metadata version signed (0 before any). */
      metadataVersion: number;
      images: Record<string, ReleasedImage>;
    };

export const firmwareLineStream = (product: string) => ({
  context: 'ota' as const,
  aggregate: 'firmware',
  id: product,
});

const sameImage = (a: ImageData, b: ImageData): boolean =>
  a.product === b.product &&
  a.version === b.version &&
  a.imageDigest === b.imageDigest &&
  a.sizeBytes === b.sizeBytes &&
  a.objectName === b.objectName;

export const firmwareLineDecider: Decider<FirmwareLineCommand, FirmwareLineEvent, FirmwareLineState> = {
  initialState: () => ({ status: 'Unknown' }),

  decide(command, state): NewEvent<FirmwareLineEvent>[] {
    switch (command.type) {
      case 'RegisterFirmwareProduct': {
        const data = command.data;
        if (state.status === 'Unknown') return [{ type: 'FirmwareProductRegistered', version: 1, data }];
        const known = state.product;
        if (known.name === data.name && known.baselineVersion === data.baselineVersion) return [];
        throw new CommandRejected('product-exists', `product ${data.product} is registered with other settings`);
      }
      case 'ReleaseFirmware': {
        const { image, release } = command.data;
        if (state.status === 'Unknown')
          throw new CommandRejected(
            'unknown-product',
            `product ${image.product} is not registered (RegisterFirmwareProduct first)`,
          );
        const earlier = state.images[image.firmwareId];
        if (earlier) {
          if (sameImage(earlier.image, image)) return [];
          throw new CommandRejected('firmware-exists', `firmware ${image.firmwareId} is registered with another image`);
        }
        if (compareFirmwareVersions(image.version, state.currentVersion) <= 0)
          throw new CommandRejected(
            'version-not-above-current',
            `version ${image.version} is not above ${image.product}'s current release ${state.currentVersion}`,
          );
        if (release.metadataVersion !== state.metadataVersion + 1)
          throw new CommandRejected(
            'stale-metadata-version',
            `metadata version ${release.metadataVersion} does not follow ${state.metadataVersion}`,
          );
        const consistent =
          release.firmwareId === image.firmwareId &&
          release.product === image.product &&
          release.version === image.version;
        if (!consistent) throw new CommandRejected('release-mismatch', 'the release does not describe the image');
        return [
          { type: 'FirmwareImageRegistered', version: 1, data: image },
          { type: 'FirmwareImageSigned', version: 1, data: release },
        ];
      }
      case 'ResignFirmware': {
        const release = command.data;
        const entry = state.status === 'Registered' ? state.images[release.firmwareId] : undefined;
        if (state.status !== 'Registered' || !entry?.release)
          throw new CommandRejected('unknown-firmware', `no released image ${release.firmwareId}`);
        if (entry.release.signingKeyId === release.signingKeyId) return [];
        if (release.metadataVersion !== state.metadataVersion + 1)
          throw new CommandRejected(
            'stale-metadata-version',
            `metadata version ${release.metadataVersion} does not follow ${state.metadataVersion}`,
          );
        const same = release.product === entry.image.product && release.version === entry.image.version;
        if (!same) throw new CommandRejected('release-mismatch', 'the release does not describe the image');
        return [{ type: 'FirmwareImageSigned', version: 1, data: release }];
      }
      default: {
        const unknown: never = command;
        throw new CommandRejected('unknown-command', `unknown command ${(unknown as Command).type}`);
      }
    }
  },

  evolve(state, event): FirmwareLineState {
    switch (event.type) {
      case 'FirmwareProductRegistered':
        return state.status === 'Unknown'
          ? {
              status: 'Registered',
              product: event.data,
              currentVersion: event.data.baselineVersion,
              metadataVersion: 0,
              images: {},
            }
          : state;
      case 'FirmwareImageRegistered':
        if (state.status !== 'Registered') return state;
        return {
          ...state,
          currentVersion:
            compareFirmwareVersions(event.data.version, state.currentVersion) > 0
              ? event.data.version
              : state.currentVersion,
          images: { ...state.images, [event.data.firmwareId]: { image: event.data } },
        };
      case 'FirmwareImageSigned': {
        if (state.status !== 'Registered') return state;
        const entry = state.images[event.data.firmwareId];
        if (!entry) return state;
        return {
          ...state,
          metadataVersion: Math.max(state.metadataVersion, event.data.metadataVersion),
          images: { ...state.images, [event.data.firmwareId]: { ...entry, release: event.data } },
        };
      }
      default:
        return state;
    }
  },
};
