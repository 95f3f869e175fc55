/** Simulated fridge readings: a cabinet near 4 °C that warms while its door is open. Deterministic per device and sequence. */
import { createHash } from 'node:crypto';

export interface FridgeReading {
  deviceId: string;
  seq: number;
  at: string;
  temperatureC: number;
  door: 'open' | 'closed';
}

/** Per-device generator state: a few numbers, thousands of devices fit in memory. */
export class FridgeTelemetry {
  #seq = 0;
  #temperature: number;
  #doorOpenFor = 0;
  #random: number;

  constructor(readonly deviceId: string) {
    const seed = createHash('sha256').update(deviceId).digest();
    this.#random = seed.readUInt32LE(0) || 1;
    this.#temperature = 3.5 + (seed[4]! / 255) * 1.5;
  }

  next(at: Date): FridgeReading {
    // A door opens now and then (5 % per reading) and stays open for 1-3 readings.
    if (this.#doorOpenFor > 0) this.#doorOpenFor--;
    else if (this.#uniform() < 0.05) this.#doorOpenFor = 1 + Math.floor(this.#uniform() * 3);
    const open = this.#doorOpenFor > 0;
    const target = open ? 9 : 4;
    this.#temperature += (target - this.#temperature) * (open ? 0.35 : 0.2) + (this.#uniform() - 0.5) * 0.2;
    return {
      deviceId: this.deviceId,
      seq: ++this.#seq,
      at: at.toISOString(),
      temperatureC: Math.round(this.#temperature * 100) / 100,
      door: open ? 'open' : 'closed',
    };
  }

  // xorshift32: simulation noise only, never used for anything secret.
  #uniform(): number {
    let x = this.#random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#random = x >>> 0;
    return this.#random / 0x1_0000_0000;
  }
}
