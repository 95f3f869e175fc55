/**
 * The two firmware slots of a simulated device (A/B). The device runs the active slot, writes an
 * update into the inactive one, then boots it on trial: if its boot check passes, the new slot
 * becomes active for good; if not, the boot ROM falls back to the slot it came from. Pure: every
 * transition returns a new value.
 */
export type SlotName = 'a' | 'b';

/** What a slot holds, as the boot ROM sees it: a version and the SHA-256 it measures. */
export interface SlotImage {
  version: string;
  measurement: string;
}

export interface FirmwareSlots {
  active: SlotName;
  a?: SlotImage;
  b?: SlotImage;
  /** Boots so far (the trial boot of an update counts, the fallback after it too). */
  bootCount: number;
}

export const otherSlot = (slot: SlotName): SlotName => (slot === 'a' ? 'b' : 'a');

/** A factory-fresh device: the image in slot A, slot B empty. */
export const factorySlots = (image: SlotImage): FirmwareSlots => ({ active: 'a', a: { ...image }, bootCount: 1 });

export const runningImage = (slots: FirmwareSlots): SlotImage => slots[slots.active]!;

/** The update written and verified in the inactive slot (not yet booted). */
export function writeInactive(slots: FirmwareSlots, image: SlotImage): FirmwareSlots {
  return { ...slots, [otherSlot(slots.active)]: { ...image } };
}

export type BootOutcome = 'booted' | 'rolled-back';

/**
 * Reboots into the inactive slot. `bootCheckPasses` is the new image's own health check: when it
 * fails, the device boots its previous slot again (two boots), which stays active.
 */
export function trialBoot(
  slots: FirmwareSlots,
  bootCheckPasses: boolean,
): { slots: FirmwareSlots; outcome: BootOutcome } {
  const candidate = otherSlot(slots.active);
  if (!slots[candidate]) return { slots, outcome: 'rolled-back' };
  if (bootCheckPasses)
    return { slots: { ...slots, active: candidate, bootCount: slots.bootCount + 1 }, outcome: 'booted' };
  return { slots: { ...slots, bootCount: slots.bootCount + 2 }, outcome: 'rolled-back' };
}
