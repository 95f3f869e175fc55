import { createHash } from 'node:crypto';

/**
 * Simulated firmware images: deterministic bytes per version, so every device running version v
 * measures the same SHA-256, as a boot ROM measuring real flash would. Images are built once per
 * version and cached (thousands of devices share a handful of versions).
 */
const imageBytes = 16 * 1024;
const images = new Map<string, Uint8Array>();

/** The image of a released firmware version. */
export function firmwareImage(version: string): Uint8Array {
  let image = images.get(version);
  if (!image) {
    image = new Uint8Array(imageBytes);
    // SHA-256 in counter mode: cheap, reproducible, unique per version.
    for (let block = 0; block * 32 < imageBytes; block++) {
      image.set(createHash('sha256').update(`tunnelkey/simulated-firmware/${version}/${block}`).digest(), block * 32);
    }
    images.set(version, image);
  }
  return image;
}

/** An image of `version` with some bytes patched: what a tampered device runs. */
export function tamperedFirmwareImage(version: string, patch = 'implant'): Uint8Array {
  const image = firmwareImage(version).slice();
  image.set(new TextEncoder().encode(patch), 0x400);
  return image;
}

/** The measurement the boot ROM takes: SHA-256 of the image, lowercase hex. */
export function measureFirmware(image: Uint8Array): string {
  return createHash('sha256').update(image).digest('hex');
}

const measurements = new Map<string, string>();

/** Measurement of a released version's image (cached). */
export function firmwareMeasurement(version: string): string {
  let m = measurements.get(version);
  if (!m) {
    m = measureFirmware(firmwareImage(version));
    measurements.set(version, m);
  }
  return m;
}
