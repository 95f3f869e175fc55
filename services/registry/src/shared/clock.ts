/** Where handlers get the time they pass to deciders in command metadata (deciders never read a clock). */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();

export function addSeconds(at: Date, seconds: number): Date {
  return new Date(at.getTime() + seconds * 1000);
}
