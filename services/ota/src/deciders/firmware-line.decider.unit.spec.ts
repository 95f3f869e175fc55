import { CommandRejected } from '@tunnelkey/eventstore';
import { deciderSpecification } from '@tunnelkey/testing';
import {
  firmwareLineDecider,
  type FirmwareLineCommand,
  type ImageData,
  type ReleaseData,
} from './firmware-line.decider.js';

const metadata = { commandId: 'c-1', now: '2026-12-01T00:00:00.000Z' };
const product = { product: 'fridge-x200', name: 'Fridge X200', baselineVersion: '1.0.0' };
const registered = { type: 'FirmwareProductRegistered', version: 1, data: product };
const image = (version: string, firmwareId = `fw-${version.replace(/\./g, '-')}`): ImageData => ({
  firmwareId,
  product: 'fridge-x200',
  version,
  imageDigest: 'ab'.repeat(32),
  sizeBytes: 1024,
  objectName: `upload-${firmwareId}`,
});
const release = (img: ImageData, metadataVersion: number): ReleaseData => ({
  firmwareId: img.firmwareId,
  product: img.product,
  version: img.version,
  metadataVersion,
  expiresAt: '2027-01-01T00:00:00.000Z',
  signingKeyId: 'ota-signing-1',
  algorithms: ['ecdsa-p256-sha256', 'ml-dsa-65'],
  metadataDigest: 'cd'.repeat(32),
  targets: '{}',
});
const released = (img: ImageData, metadataVersion: number) => [
  { type: 'FirmwareImageRegistered', version: 1, data: img },
  { type: 'FirmwareImageSigned', version: 1, data: release(img, metadataVersion) },
];
const command = <T extends FirmwareLineCommand['type']>(
  type: T,
  data: Extract<FirmwareLineCommand, { type: T }>['data'],
) => ({ type, data, metadata }) as FirmwareLineCommand;
const releaseOf = (img: ImageData, metadataVersion: number) =>
  command('ReleaseFirmware', { image: img, release: release(img, metadataVersion) });
const rejected = (reason: string) => (e: unknown) => e instanceof CommandRejected && e.reason === reason;
const spec = deciderSpecification(firmwareLineDecider);

describe('firmware line decider', () => {
  describe('when the product is unknown', () => {
    test('RegisterFirmwareProduct registers it', () => {
      spec.given([]).when(command('RegisterFirmwareProduct', product)).then([registered]);
    });
    test('an image of it is refused: unknown product', () => {
      spec
        .given([])
        .when(releaseOf(image('2.0.0'), 1))
        .thenThrows(rejected('unknown-product'));
    });
  });

  describe('when registered', () => {
    test('registering again: the same changes nothing, other settings are refused', () => {
      spec.given([registered]).when(command('RegisterFirmwareProduct', product)).thenNothingHappened();
      spec
        .given([registered])
        .when(command('RegisterFirmwareProduct', { ...product, baselineVersion: '0.9.0' }))
        .thenThrows(rejected('product-exists'));
    });
    test('an image above the baseline is registered and released together', () => {
      spec
        .given([registered])
        .when(releaseOf(image('1.1.0'), 1))
        .then(released(image('1.1.0'), 1));
    });
    test('a version not above the current release is refused (numerically: 1.10 > 1.9)', () => {
      spec
        .given([registered])
        .when(releaseOf(image('1.0.0'), 1))
        .thenThrows(rejected('version-not-above-current'));
      const given = [registered, ...released(image('1.10.0'), 1)];
      spec
        .given(given)
        .when(releaseOf(image('1.9.0'), 2))
        .thenThrows(rejected('version-not-above-current'));
      spec
        .given(given)
        .when(releaseOf(image('1.11.0'), 2))
        .then(released(image('1.11.0'), 2));
    });
    test('metadata versions follow one another; the same image again changes nothing, another is refused', () => {
      const given = [registered, ...released(image('2.0.0'), 1)];
      spec
        .given(given)
        .when(releaseOf(image('3.0.0'), 1))
        .thenThrows(rejected('stale-metadata-version'));
      spec
        .given(given)
        .when(releaseOf(image('2.0.0'), 2))
        .thenNothingHappened();
      spec
        .given(given)
        .when(releaseOf({ ...image('2.0.0'), imageDigest: 'ef'.repeat(32) }, 2))
        .thenThrows(rejected('firmware-exists'));
    });
    test('a released image is signed again by another key generation with the next metadata version, once', () => {
      const given = [registered, ...released(image('2.0.0'), 1)];
      const resigned = { ...release(image('2.0.0'), 2), signingKeyId: 'ota-signing-2' };
      spec
        .given(given)
        .when(command('ResignFirmware', resigned))
        .then([{ type: 'FirmwareImageSigned', version: 1, data: resigned }]);
      spec
        .given([...given, { type: 'FirmwareImageSigned', version: 1, data: resigned }])
        .when(command('ResignFirmware', { ...resigned, metadataVersion: 3 }))
        .thenNothingHappened();
      spec
        .given(given)
        .when(command('ResignFirmware', { ...resigned, metadataVersion: 5 }))
        .thenThrows(rejected('stale-metadata-version'));
      spec.given([registered]).when(command('ResignFirmware', resigned)).thenThrows(rejected('unknown-firmware'));
    });
  });
});
