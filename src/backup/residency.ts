/**
 * Data residency (RAMPART_DATA_RESIDENCY): the regions an off-site copy may be kept in. Each entry
 * is a zone (`eu`: every AWS-style European region) or one exact region name, for providers whose
 * names follow no such pattern (`fr-par`, `nbg1`). Pure, with no imports: the configuration
 * checks it at load, and every S3 target again before it writes.
 */
const ZONES: Readonly<Record<string, RegExp>> = {
  // AWS's commercial EU regions and its European Sovereign Cloud.
  eu: /^(eu|eusc)-[a-z]+-\d+$/,
};

const REGION_NAME = /^[a-z0-9][a-z0-9-]{1,39}$/;

export const DEFAULT_RESIDENCY = ['eu'];

/** A region outside the allowed residency: the backup is refused. */
export class ResidencyError extends Error {
  override readonly name = 'ResidencyError';
}

/** Why an entry of RAMPART_DATA_RESIDENCY is not usable, or null when it is. */
export function residencyEntryProblem(entry: string): string | null {
  if (entry in ZONES || REGION_NAME.test(entry)) return null;
  return `"${entry.slice(0, 40)}" is neither a zone (${Object.keys(ZONES).join(', ')}) nor a region name`;
}

export function regionAllowed(region: string, allowed: readonly string[]): boolean {
  return allowed.some((entry) => entry === region || (ZONES[entry]?.test(region) ?? false));
}

/** Throws ResidencyError naming the target, its region and what is allowed. */
export function assertRegionAllowed(target: string, region: string, allowed: readonly string[]): void {
  if (!regionAllowed(region, allowed)) {
    throw new ResidencyError(`Backup target ${target} is in region "${region.slice(0, 40)}", outside the allowed data residency (${allowed.join(', ')}); refusing to write backups there (RAMPART_DATA_RESIDENCY)`);
  }
}
