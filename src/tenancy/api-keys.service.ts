import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { recordOrgAction } from './org-audit.js';
import type { SecurityAction } from '../audit/index.js';
import type { Principal } from '../identity/index.js';
import type { Clock } from '../platform/clock.js';
import { withTenant } from '../platform/db/index.js';
import type { DB, TenantTransaction } from '../platform/db/index.js';
import { generateApiKey, parseApiKey } from './api-key-format.js';
import * as repo from './api-keys.repository.js';
import type { ApiKeyRow } from './api-keys.repository.js';
import type { OrgContext, OrgScope } from './org-context.js';
import { findMembership, findTenant } from './orgs.repository.js';
import type { TenantRow } from './orgs.repository.js';
import { roleMayGrant, SCOPES } from './permissions.js';
import type { Plan, PlanPolicy, Scope } from './permissions.js';
import { tenancyErrors } from './tenancy.errors.js';
import type { RequestMeta } from '../platform/http/index.js';

export interface ApiKeyDependencies {
  db: Kysely<DB>;
  clock: Clock;
  /** HMAC key for stored key hashes, derived from the root key: a stolen table alone verifies nothing. */
  pepper: Buffer;
  /**
   * Identity's step-up: minting a long-lived credential from a stolen or unattended session must
   * need the person (the password, or a sign-in within 10 minutes); throws `step_up_required`.
   */
  stepUp: (principal: Principal, password: string | undefined, meta: RequestMeta) => Promise<void>;
  plans: Readonly<Record<Plan, PlanPolicy>>;
}

export interface ApiKeyView {
  id: string;
  name: string;
  scopes: Scope[];
  created_by: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface IssuedApiKey {
  id: string;
  /** The only time the key exists outside its holder's hands; it is never stored. */
  key: string;
  name: string;
  scopes: Scope[];
  expires_at: string | null;
}

export interface NewApiKey {
  name: string;
  scopes: Scope[];
  expiresInDays?: number;
  password?: string;
}

/** Who a verified key is, for the org context of its request. */
export interface AuthenticatedKey {
  org: TenantRow;
  keyId: string;
  scopes: Scope[];
}

// last_used_at is for humans deciding what to revoke: minute precision spares a write per request.
const TOUCH_INTERVAL_MS = 60_000;
const DAY_MS = 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KNOWN_SCOPES: ReadonlySet<string> = new Set(SCOPES);
// What an unknown key id is compared against: an HMAC-SHA256's length, matching no key.
const UNKNOWN_KEY_HASH = Buffer.alloc(32);

function isScope(value: string): value is Scope {
  return KNOWN_SCOPES.has(value);
}

function viewOf(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.key_id,
    name: row.name,
    scopes: row.scopes.filter(isScope),
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
    last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
  };
}

/** Org API keys: issuing (shown once), listing, revoking, and verifying a presented key. */
export function createApiKeys(deps: ApiKeyDependencies) {
  const { db, clock } = deps;
  const hashOf = (key: string): Buffer => createHmac('sha256', deps.pepper).update(key, 'utf8').digest();

  const audit = (trx: TenantTransaction, context: OrgContext, action: SecurityAction, meta: RequestMeta, metadata: Record<string, unknown>) =>
    recordOrgAction(trx, clock.now(), context, action, meta, metadata);

  return {
    /**
     * Issues a key. The creator's role bounds its scopes (a key never holds more than the person
     * who made it could do), and a sign-in older than ten minutes needs the password again.
     */
    async issue(orgScope: OrgScope, principal: Principal, input: NewApiKey, meta: RequestMeta): Promise<IssuedApiKey> {
      const assertMayGrant = (context: OrgContext) => {
        const beyond = input.scopes.filter((scope) => !roleMayGrant(context.role, context.plan, scope));
        if (beyond.length > 0) throw tenancyErrors.forbidden(`Your role cannot grant these scopes: ${beyond.join(', ')}`);
      };
      // Refused before the step-up (which may cost a password hash), and again with the insert, under
      // the org lock, in case the creator's role changed in between.
      await orgScope(async (_trx, context) => assertMayGrant(context));
      await deps.stepUp(principal, input.password, meta);
      const { keyId, key } = generateApiKey();
      const now = clock.now();
      const expiresAt = input.expiresInDays === undefined ? null : new Date(now.getTime() + input.expiresInDays * DAY_MS);
      const scopes = [...new Set(input.scopes)];
      await orgScope(async (trx, context) => {
        assertMayGrant(context);
        await repo.insertApiKey(trx, {
          tenant_id: context.tenantId,
          key_id: keyId,
          name: input.name,
          scopes,
          key_hash: hashOf(key),
          created_by: principal.id,
          created_at: now,
          expires_at: expiresAt,
        });
        await audit(trx, context, 'api_key.issued', meta, { key_id: keyId, name: input.name, scopes, expires_at: expiresAt?.toISOString() ?? null });
      }, { lock: true });
      return { id: keyId, key, name: input.name, scopes, expires_at: expiresAt?.toISOString() ?? null };
    },

    async list(scope: OrgScope): Promise<ApiKeyView[]> {
      return (await scope((trx, context) => repo.listApiKeys(trx, context.tenantId))).map(viewOf);
    },

    /** Revokes a key; it fails on its very next request. Revoking a revoked key changes nothing. */
    async revoke(scope: OrgScope, keyId: string, meta: RequestMeta): Promise<void> {
      await scope(async (trx, context) => {
        const revoked = await repo.revokeApiKey(trx, context.tenantId, keyId, clock.now());
        if (revoked) {
          await audit(trx, context, 'api_key.revoked', meta, { key_id: keyId, name: revoked.name });
          return;
        }
        if (!(await repo.findApiKey(trx, context.tenantId, keyId))) throw tenancyErrors.not_found('No such API key');
      }, { lock: true });
    },

    /**
     * Verifies a presented key for the org of the URL, on every request (no cache, so revocation
     * is immediate on every node). A malformed key or bad checksum is refused before any query.
     * A key id this org does not hold (a guess, or another org's key) and a known id with a wrong
     * secret get the same 401 after the same work, so a key id cannot be probed; a revoked or
     * expired key is 401 too.
     */
    async authenticate(tenantId: string, presented: string): Promise<AuthenticatedKey> {
      const parsed = parseApiKey(presented);
      if (!parsed) throw tenancyErrors.unauthenticated();
      if (!UUID.test(tenantId)) throw tenancyErrors.not_found();
      const hash = hashOf(presented);
      const now = clock.now();
      return withTenant(db, tenantId, async (trx) => {
        const row = await repo.findApiKey(trx, tenantId, parsed.keyId);
        // Compared in constant time even though the id already matched: the hash is the credential.
        // An unknown id is compared against a stand-in, so it costs what a wrong secret costs.
        const stored = row ? Buffer.from(row.key_hash) : UNKNOWN_KEY_HASH;
        const valid = stored.length === hash.length && timingSafeEqual(hash, stored) && row !== undefined;
        if (!valid || row.revoked_at || (row.expires_at && row.expires_at <= now)) throw tenancyErrors.unauthenticated();
        const org = await findTenant(trx, tenantId);
        if (!org) throw tenancyErrors.not_found();
        // A key acts with its creator's authority: once they leave the org or lose a right the key
        // carries, it stops working, on the very next request.
        const creator = await findMembership(trx, tenantId, row.created_by);
        const scopes = row.scopes.filter(isScope);
        if (!creator || !scopes.every((scope) => roleMayGrant(creator.role, deps.plans[org.plan], scope))) {
          throw tenancyErrors.unauthenticated('This key no longer works: its creator no longer holds the rights it carries');
        }
        if (!row.last_used_at || now.getTime() - row.last_used_at.getTime() >= TOUCH_INTERVAL_MS) {
          await repo.touchApiKey(trx, tenantId, row.key_id, now);
        }
        return { org, keyId: row.key_id, scopes };
      });
    },
  };
}

export type ApiKeys = ReturnType<typeof createApiKeys>;
