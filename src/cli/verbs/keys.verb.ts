import { recordAuditEvent } from '../../audit/index.js';
import { deriveKey } from '../../crypto/root-key.js';
import { rotateSigningKey } from '../../crypto/signing-keys.js';
import { SIGNING_KEY_REFRESH_MS } from '../../identity/index.js';
import { systemClock } from '../../platform/clock.js';
import type { TenantTransaction } from '../../platform/db/index.js';
import { JobQueue } from '../../platform/jobs/index.js';
import { createLogger } from '../../platform/log/logger.js';
import { keyringFor, listTenantsWithKeys, REWRAP_JOB, staleDataKeys } from '../../vault/index.js';
import { UsageError, VerbError } from '../verb.js';
import type { DatabaseContext, DatabaseVerb } from '../verb.js';

type KeysResult =
  | { purpose: 'access-token'; kid: string; retired: string[]; dropped: boolean }
  | { purpose: 'tenant-kek'; rotated: Array<{ tenant: string; version: number }> }
  | { purpose: 'rewrap'; job: number | null; stale: Array<{ tenant: string; stale: number }> };

/** Who rotates keys: the operator at the command line, recorded as the system (the platform chain without an org). */
const BY_OPERATOR = { realm: 'platform', principalId: null, actor: { type: 'system', id: null }, ip: null, userAgent: null } as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function tenantOption(input: DatabaseContext['input']): string | null {
  const tenant = input.options.tenant;
  if (tenant === undefined) return null;
  if (typeof tenant !== 'string' || !UUID.test(tenant)) throw new UsageError('keys: --tenant takes an organization id (a UUID)');
  return tenant;
}

async function rotateTenantKeys({ database, config, rootKey, input }: DatabaseContext): Promise<KeysResult> {
  const tenant = tenantOption(input);
  const keyring = keyringFor(config.vault, rootKey, systemClock);
  const tenants = tenant ? [tenant] : await listTenantsWithKeys(database.db);
  const rotated = [];
  for (const id of tenants) {
    try {
      const record = (trx: TenantTransaction, version: number) => recordAuditEvent(trx, { ...BY_OPERATOR, tenantId: id, action: 'keys.tenant_key_rotated', metadata: { version }, at: new Date() });
      rotated.push({ tenant: id, version: await keyring.rotateTenantKey(database.db, id, record) });
    } catch (error) {
      // An unknown org fails the foreign key; say so instead of printing the database's words.
      if ((error as { code?: string }).code === '23503') throw new VerbError(`keys: no organization ${id}`);
      throw error;
    }
  }
  return { purpose: 'tenant-kek', rotated };
}

async function rewrap({ database, config, input }: DatabaseContext): Promise<KeysResult> {
  const tenant = tenantOption(input);
  const stale = (await staleDataKeys(database.db, tenant)).map(({ tenantId, stale: count }) => ({ tenant: tenantId, stale: count }));
  if (input.options.status === true || stale.length === 0) return { purpose: 'rewrap', job: null, stale };
  // The server's worker runs it; this only needs to put it on the durable queue.
  const queue = new JobQueue({ db: database.db, clock: systemClock, logger: createLogger('silent'), config: config.jobs });
  const job = await queue.enqueue(database.db, REWRAP_JOB, { tenant_id: tenant });
  return { purpose: 'rewrap', job, stale };
}

/**
 * `rampart keys rotate`: a new access-token signing key (the previous one stays in the JWKS);
 * `rampart keys rotate --tenant ID|--all`: a new key-encryption key version for vault tenants;
 * `rampart keys rewrap`: a background job moving data keys under the newest tenant keys.
 */
export const keysVerb: DatabaseVerb<KeysResult> = {
  name: 'keys',
  summary: 'Rotate the signing key or tenant encryption keys; rewrap data keys (rampart keys rotate|rewrap)',
  usage: 'rampart keys rotate [--signing] [--drop-previous] | rampart keys rotate --tenant <id>|--all | rampart keys rewrap [--tenant <id>] [--status]',
  access: 'shared',
  needsCurrentSchema: true,
  maxPositionals: 1,
  options: {
    signing: { type: 'boolean', description: '--signing  rotate the access-token signing key (what rotate does without --tenant or --all)' },
    'drop-previous': { type: 'boolean', description: '--drop-previous  stop trusting the previous signing key at once (it may be compromised); signs everybody out' },
    tenant: { type: 'string', description: '--tenant <id>  the organization whose vault key to rotate or rewrap' },
    all: { type: 'boolean', description: '--all  rotate the vault key of every organization that has one' },
    status: { type: 'boolean', description: '--status  with rewrap: show the data keys still under an older tenant key, enqueue nothing' },
  },
  async run(context) {
    const { input, database, rootKey } = context;
    const action = input.positionals[0];
    if (action === 'rewrap') return rewrap(context);
    if (action !== 'rotate') throw new UsageError('keys: say what to do, e.g. rampart keys rotate');
    const vaultScope = input.options.tenant !== undefined || input.options.all === true;
    if (vaultScope && input.options.signing === true) throw new UsageError('keys: rotate either --signing or --tenant/--all, not both');
    if (input.options.tenant !== undefined && input.options.all === true) throw new UsageError('keys: give --tenant <id> or --all, not both');
    if (vaultScope) return rotateTenantKeys(context);
    const dropPrevious = input.options['drop-previous'] === true;
    const result = await database.db.transaction().execute(async (trx) => {
      const rotated = await rotateSigningKey(trx, deriveKey(rootKey, 'signing-keys'), 'access-token', new Date(), { dropPrevious });
      await recordAuditEvent(trx, { ...BY_OPERATOR, action: 'keys.signing_key_rotated', metadata: { kid: rotated.kid, retired: rotated.retired, dropped_previous: dropPrevious }, at: new Date() });
      return rotated;
    });
    return { purpose: 'access-token', dropped: dropPrevious, ...result };
  },
  render(result) {
    if (result.purpose === 'tenant-kek') {
      if (result.rotated.length === 0) return 'No organization has a vault key yet; nothing to rotate.';
      return [
        ...result.rotated.map(({ tenant, version }) => `Organization ${tenant}: new key version ${version}; new data keys are wrapped by it.`),
        'Existing data keys stay readable under their older version; run `rampart keys rewrap` to move them.',
      ].join('\n');
    }
    if (result.purpose === 'rewrap') {
      const waiting = result.stale.reduce((sum, { stale }) => sum + stale, 0);
      if (waiting === 0) return 'Every data key is wrapped by its organization\'s newest key; nothing to rewrap.';
      const where = `${waiting} data key(s) in ${result.stale.length} organization(s) are under an older key`;
      return result.job === null ? `${where}.` : `${where}; rewrap job ${result.job} enqueued (progress: rampart keys rewrap --status, and the server log).`;
    }
    const { kid, retired, dropped } = result;
    const seconds = SIGNING_KEY_REFRESH_MS / 1000;
    const previous = retired.join(', ');
    return [
      `New access-token signing key ${kid}; every node signs with it, and stops trusting a dropped key, within ${seconds} s.`,
      retired.length === 0
        ? 'There was no previous key.'
        : dropped
          ? `Dropped ${previous}: tokens it signed no longer verify; everybody signs in again.`
          : `Retired ${previous}: still published at /.well-known/jwks.json for two hours, so tokens it signed stay valid until they expire.`,
    ].join('\n');
  },
};
