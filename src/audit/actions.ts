import { Type } from 'typebox';
import type { Static, TSchema } from 'typebox';

/**
 * Every action Rampart records itself, with a one-line description, the schema of its metadata,
 * what it acts on, and which metadata fields are personal data.
 *
 * A change to a stored name or payload is a schema change: entries already written keep the old
 * shape forever (they are hashed), so add fields as optional and never rename.
 *
 * - `metadata`: the schema of the non-personal metadata, as stored in `audit_entries.metadata`.
 * - `personal`: metadata fields that are personal data; they are stored apart, in the `personal`
 *   column with the IP and user agent (src/audit/canonical.ts), so they can be encrypted or erased
 *   per data subject without breaking the chain.
 * - `target`: the type of what the action is about, and where its id comes from: a metadata field,
 *   `principal` (the principal the event is about) or `tenant` (the org itself).
 */
interface ActionDefinition {
  description: string;
  metadata: TSchema;
  personal?: readonly string[];
  target?: { type: string; from: string | 'principal' };
}

const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
const Amr = Type.Array(Type.String());
/** Metadata schemas are closed, so a test catches a personal field left in metadata. */
const Meta = <P extends Record<string, TSchema>>(properties: P) => Type.Object(properties, { additionalProperties: false });
const None = Meta({});
const self = { type: 'user', from: 'principal' } as const;

export const AUDIT_ACTIONS = {
  'auth.signup': {
    description: 'an account was created',
    metadata: Meta({ via: Type.Optional(Type.Literal('invitation')), provider: Type.Optional(Type.String()) }),
    target: self,
  },
  'auth.login.succeeded': {
    description: 'a sign-in completed (after MFA when on)',
    metadata: Meta({ amr: Amr, provider: Type.Optional(Type.String()) }),
    target: self,
  },
  'auth.login.failed': {
    description: 'wrong password, unknown account, locked, or wrong second factor; metadata holds the reason',
    metadata: Meta({
      reason: Type.Union([
        Type.Literal('throttled'),
        Type.Literal('unknown_account'),
        Type.Literal('wrong_password'),
        Type.Literal('wrong_second_factor'),
        Type.Literal('step_up_wrong_password'),
        Type.Literal('external_email_unverified'),
      ]),
      provider: Type.Optional(Type.String()),
    }),
    target: self,
  },
  'auth.refresh_token_reused': {
    description: 'a spent refresh token came back: the session was revoked',
    metadata: Meta({ session_id: Type.String() }),
    target: self,
  },
  'auth.logout': { description: "the session ended at the user's request", metadata: None, target: self },
  'auth.external_identity.linked': {
    description: 'an OpenID Connect identity was attached to the account with its verified email',
    metadata: Meta({ provider: Type.String(), password_removed: Type.Boolean() }),
    target: self,
  },
  'account.claimed': {
    description: 'the proven owner of a never-verified address took the account over; metadata lists what was cleared',
    metadata: Meta({
      provider: Type.String(),
      password_removed: Type.Boolean(),
      mfa_disabled: Type.Boolean(),
      one_time_tokens_spent: Type.Number(),
      external_identities_removed: Type.Number(),
      sessions_revoked: Type.Boolean(),
    }),
    target: self,
  },
  'email.verified': {
    description: 'the address was proven by the mailed link',
    metadata: Meta({ external_identities_removed: Type.Optional(Type.Number()) }),
    target: self,
  },
  'password.changed': { description: 'changed by the signed-in user', metadata: None, target: self },
  'password.reset_requested': { description: 'a reset link was mailed', metadata: None, target: self },
  'password.reset': {
    description: 'changed through a reset link; every session revoked',
    metadata: Meta({ external_identities_removed: Type.Optional(Type.Number()) }),
    target: self,
  },
  'mfa.enrolled': { description: 'TOTP confirmed and switched on', metadata: None, target: self },
  'mfa.disabled': { description: 'TOTP switched off', metadata: None, target: self },
  'mfa.recovery_code_used': { description: 'a recovery code replaced the TOTP code', metadata: None, target: self },
  'session.revoked': {
    description: 'one or more sessions revoked by the user',
    metadata: Meta({ sessions: Type.Number() }),
    target: self,
  },
  'account.exported': { description: 'the user downloaded their personal data', metadata: None, target: self },
  'account.deletion_requested': {
    description: 'the account was closed; purge scheduled',
    metadata: Meta({ purge_after: Type.String() }),
    target: self,
  },
  'staff.disabled': {
    description: 'a platform staff account was disabled (rampart admin disable)',
    metadata: Meta({ sessions_revoked: Type.Number() }),
    target: { type: 'staff', from: 'principal' },
  },
  'org.created': {
    description: 'an organization was created; its creator is the owner',
    metadata: Meta({ name: Type.String() }),
    target: { type: 'org', from: 'tenant' },
  },
  'org.settings_changed': {
    description: 'settings changed; metadata holds before and after',
    metadata: Meta({ before: Type.Record(Type.String(), Type.Unknown()), after: Type.Record(Type.String(), Type.Unknown()) }),
    target: { type: 'org', from: 'tenant' },
  },
  'member.role_changed': {
    description: "a member's role changed; metadata holds before and after",
    metadata: Meta({ user_id: Type.String(), before: Role, after: Role }),
    target: { type: 'user', from: 'user_id' },
  },
  'member.removed': {
    description: 'a member was removed, or left',
    metadata: Meta({ user_id: Type.String(), role: Role, left: Type.Boolean() }),
    target: { type: 'user', from: 'user_id' },
  },
  'invitation.sent': {
    description: 'an invitation was mailed; metadata holds its id and the role, the address is personal',
    metadata: Meta({ invitation_id: Type.String(), role: Role }),
    personal: ['email'],
    target: { type: 'invitation', from: 'invitation_id' },
  },
  'invitation.accepted': {
    description: 'the invitee joined the org with the invited role',
    metadata: Meta({ invitation_id: Type.String(), role: Role }),
    target: { type: 'invitation', from: 'invitation_id' },
  },
  'invitation.revoked': {
    description: 'a pending invitation was withdrawn before use',
    metadata: Meta({ invitation_id: Type.String(), role: Role }),
    personal: ['email'],
    target: { type: 'invitation', from: 'invitation_id' },
  },
  'api_key.issued': {
    description: 'an org API key was created; metadata holds its id, name, scopes and expiry, never the key',
    metadata: Meta({ key_id: Type.String(), name: Type.String(), scopes: Type.Array(Type.String()), expires_at: Type.Union([Type.String(), Type.Null()]) }),
    target: { type: 'api_key', from: 'key_id' },
  },
  'api_key.revoked': {
    description: 'an org API key was revoked; metadata holds its id and name',
    metadata: Meta({ key_id: Type.String(), name: Type.String() }),
    target: { type: 'api_key', from: 'key_id' },
  },
  // Vault (src/vault): names of what was touched, never the data or the subject id.
  'record.written': {
    description: 'a vault record was created or replaced; metadata holds its collection, key and category',
    metadata: Meta({ collection: Type.String(), key: Type.String(), category: Type.String(), created: Type.Boolean() }),
    target: { type: 'record', from: 'key' },
  },
  'record.read': {
    description: 'a vault record with a data subject was read; metadata holds its collection and key',
    metadata: Meta({ collection: Type.String(), key: Type.String() }),
    target: { type: 'record', from: 'key' },
  },
  'record.deleted': {
    description: 'a vault record was deleted; metadata holds its collection and key',
    metadata: Meta({ collection: Type.String(), key: Type.String() }),
    target: { type: 'record', from: 'key' },
  },
  'file.written': {
    description: 'a vault file was uploaded or replaced; metadata holds its key and size',
    metadata: Meta({ key: Type.String(), size: Type.Number(), created: Type.Boolean() }),
    target: { type: 'file', from: 'key' },
  },
  'file.read': {
    description: 'a vault file with a data subject was downloaded; metadata holds its key',
    metadata: Meta({ key: Type.String() }),
    target: { type: 'file', from: 'key' },
  },
  'file.deleted': {
    description: 'a vault file was deleted; metadata holds its key',
    metadata: Meta({ key: Type.String() }),
    target: { type: 'file', from: 'key' },
  },
  'backup.created': {
    description: 'a backup was taken and verified on every target; metadata holds its id, size and targets',
    metadata: Meta({ backup_id: Type.String(), tables: Type.Number(), rows: Type.Number(), bytes: Type.Number(), targets: Type.Array(Type.String()) }),
    target: { type: 'backup', from: 'backup_id' },
  },
  'backup.pruned': {
    description: 'backups past the retention policy were deleted from every target; metadata lists them',
    metadata: Meta({ pruned: Type.Array(Type.String()), kept: Type.Number() }),
  },
  'backup.drill_completed': {
    description: 'a restore drill restored a backup into a scratch database; metadata holds its outcome and measured duration',
    metadata: Meta({ drill_id: Type.String(), backup_id: Type.Union([Type.String(), Type.Null()]), outcome: Type.String(), duration_ms: Type.Number() }),
    target: { type: 'backup', from: 'backup_id' },
  },
  'audit.archived': {
    description: 'retention moved entries from..below-1 of this chain to a sealed archive file; metadata holds the range, the file and its SHA-256',
    metadata: Meta({ from: Type.Number(), below: Type.Number(), file: Type.String(), sha256: Type.String() }),
  },
} as const satisfies Record<string, ActionDefinition>;

/** Security-relevant actions Rampart records itself. */
export type SecurityAction = keyof typeof AUDIT_ACTIONS;

/** The metadata an action records (personal fields included, before they are split off). */
export type ActionMetadata<A extends SecurityAction> = Static<(typeof AUDIT_ACTIONS)[A]['metadata']>;

export function isSecurityAction(action: string): action is SecurityAction {
  return Object.hasOwn(AUDIT_ACTIONS, action);
}

/** The definition of `action`; host applications' own actions (audit:write) have none. */
export function actionDefinition(action: string): ActionDefinition | undefined {
  return isSecurityAction(action) ? AUDIT_ACTIONS[action] : undefined;
}
