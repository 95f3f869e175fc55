/**
 * Orders firmware versions the way semantic versioning does: dotted numeric core compared number
 * by number (`1.10.0` > `1.9.9`), a pre-release (`-rc.1`) below its release, build metadata
 * (`+…`) ignored. Versions that differ only in build metadata are equal: neither is newer.
 */
export function compareFirmwareVersions(a: string, b: string): number {
  const [coreA, preA] = split(a);
  const [coreB, preB] = split(b);
  const core = compareIdentifiers(coreA, coreB, true);
  if (core !== 0) return core;
  if (preA === undefined || preB === undefined) return preA === preB ? 0 : preA === undefined ? 1 : -1;
  return compareIdentifiers(preA, preB, false);
}

function split(version: string): [string[], string[] | undefined] {
  const withoutBuild = version.split('+', 1)[0]!;
  const dash = withoutBuild.indexOf('-');
  const core = dash < 0 ? withoutBuild : withoutBuild.slice(0, dash);
  const pre = dash < 0 ? undefined : withoutBuild.slice(dash + 1).split('.');
  return [core.split('.'), pre];
}

function compareIdentifiers(a: string[], b: string[], padWithZero: boolean): number {
  const length = Math.max(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a[i] ?? (padWithZero ? '0' : undefined);
    const y = b[i] ?? (padWithZero ? '0' : undefined);
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      const d = BigInt(x) - BigInt(y);
      if (d !== 0n) return d > 0n ? 1 : -1;
    } else if (nx !== ny) {
      return nx ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}
