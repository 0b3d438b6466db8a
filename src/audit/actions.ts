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
    description: 'a vault record with a data subject was read; metadata holds its collection and key, and the sampling rate when its collection audits a sample of reads',
    metadata: Meta({ collection: Type.String(), key: Type.String(), sampled_percent: Type.Optional(Type.Number()) }),
    target: { type: 'record', from: 'key' },
  },
  'record.reads_counted': {
    description: "one reader's reads of records with a data subject in a collection audited by the hour (read_audit aggregated); metadata holds the collection, the hour and the count",
    metadata: Meta({ collection: Type.String(), hour: Type.String(), reads: Type.Number() }),
  },
  'vault.read_audit_changed': {
    description: "how reads of a collection's personal data are audited changed; metadata holds the collection, before and after",
    metadata: Meta({ collection: Type.String(), before: Type.Unknown(), after: Type.Unknown() }),
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
  'subject.restricted_read': {
    description: "an owner read a restricted or objected-to data subject's record or file, giving a reason (personal: it may name the person)",
    metadata: Meta({ kind: Type.Union([Type.Literal('record'), Type.Literal('file')]), collection: Type.Optional(Type.String()), key: Type.String() }),
    personal: ['access_reason'],
    target: { type: 'record', from: 'key' },
  },
  // Data-subject requests (src/privacy/dsr): the subject id is personal, kept apart from the metadata.
  'dsr.created': {
    description: 'a data-subject request was received; metadata holds its id, type and deadline',
    metadata: Meta({ request_id: Type.String(), type: Type.String(), due_at: Type.String() }),
    personal: ['subject_id'],
    target: { type: 'dsr', from: 'request_id' },
  },
  'dsr.status_changed': {
    description: "a data-subject request moved on (in_progress, completed, rejected); a rejection's reason is personal",
    metadata: Meta({ request_id: Type.String(), type: Type.String(), from: Type.String(), to: Type.String() }),
    personal: ['subject_id', 'reason'],
    target: { type: 'dsr', from: 'request_id' },
  },
  'dsr.extended': {
    description: "a data-subject request's deadline was extended (Art. 12(3)); the reason is personal",
    metadata: Meta({ request_id: Type.String(), due_at: Type.String() }),
    personal: ['subject_id', 'reason'],
    target: { type: 'dsr', from: 'request_id' },
  },
  'dsr.exported': {
    description: "the data held about a request's subject was exported (access, portability); metadata holds the counts",
    metadata: Meta({ request_id: Type.String(), records: Type.Number(), files: Type.Number() }),
    personal: ['subject_id'],
    target: { type: 'dsr', from: 'request_id' },
  },
  'dsr.rectified': {
    description: "a rectification request's corrections were applied to the subject's vault records",
    metadata: Meta({ request_id: Type.String(), records: Type.Number() }),
    personal: ['subject_id'],
    target: { type: 'dsr', from: 'request_id' },
  },
  'dsr.subject_flagged': {
    description: 'a data subject was flagged (erased, restricted or objected) by a request, or a flag was lifted',
    metadata: Meta({ request_id: Type.String(), flag: Type.String(), on: Type.Boolean() }),
    personal: ['subject_id'],
    target: { type: 'dsr', from: 'request_id' },
  },
  'dsr.erasure_confirmed': {
    description: 'the host application confirmed it carried out an erasure request in its own stores',
    metadata: Meta({ request_id: Type.String() }),
    target: { type: 'dsr', from: 'request_id' },
  },
  'dsr.erasure_completed': {
    description: "an erasure request's job deleted the subject's records and files and destroyed their keys; metadata holds the counts",
    metadata: Meta({ request_id: Type.String(), records: Type.Number(), files: Type.Number(), keys_destroyed: Type.Number(), ledger_entry: Type.String() }),
    target: { type: 'dsr', from: 'request_id' },
  },
  'suppression.added': {
    description: 'an address was put on the opt-out list (stored as a keyed hash only)',
    metadata: Meta({ source: Type.String() }),
  },
  'suppression.removed': { description: 'an address was taken off the opt-out list', metadata: None },
  'webhook.endpoint_created': {
    description: 'a webhook endpoint was registered; metadata holds its id, URL and events, never its secret',
    metadata: Meta({ endpoint_id: Type.String(), url: Type.String(), events: Type.Array(Type.String()) }),
    target: { type: 'webhook_endpoint', from: 'endpoint_id' },
  },
  'webhook.endpoint_deleted': {
    description: 'a webhook endpoint was deleted; it gets no more deliveries',
    metadata: Meta({ endpoint_id: Type.String() }),
    target: { type: 'webhook_endpoint', from: 'endpoint_id' },
  },
  // Consent, retention, records of processing, whole-org export (src/privacy): the subject id is personal.
  'consent.recorded': {
    description: "a data subject's consent choices were recorded (immutable); metadata holds the purposes, source, policy version and any browser opt-out signal",
    metadata: Meta({
      consent_id: Type.String(),
      purposes: Type.Record(Type.String(), Type.Boolean()),
      source: Type.String(),
      policy_version: Type.String(),
      signal: Type.Union([Type.Literal('gpc'), Type.Literal('dnt'), Type.Null()]),
    }),
    personal: ['subject_id'],
    target: { type: 'consent', from: 'consent_id' },
  },
  'privacy.settings_changed': {
    description: 'privacy settings changed (consent purposes, allowed origins, retention overrides, processing declarations); metadata names the fields',
    metadata: Meta({ fields: Type.Array(Type.String()) }),
    target: { type: 'org', from: 'tenant' },
  },
  'legal_hold.set': {
    description: 'an owner put a record or file under legal hold: retention will not delete it; the reason is personal (it may name people)',
    metadata: Meta({ collection: Type.String(), key: Type.String() }),
    personal: ['reason'],
    target: { type: 'record', from: 'key' },
  },
  'legal_hold.released': {
    description: 'an owner lifted a legal hold; retention applies again',
    metadata: Meta({ collection: Type.String(), key: Type.String() }),
    target: { type: 'record', from: 'key' },
  },
  'retention.applied': {
    description: "the daily retention run deleted the org's expired records and files; one entry per run, with the counts",
    metadata: Meta({ run_on: Type.String(), started_at: Type.String(), records_deleted: Type.Number(), files_deleted: Type.Number(), held: Type.Number() }),
    target: { type: 'org', from: 'tenant' },
  },
  'org_export.requested': {
    description: 'an owner asked for a ZIP of all org data (after a step-up sign-in), or an operator wrote one (rampart export, via cli)',
    metadata: Meta({ export_id: Type.String(), via: Type.Optional(Type.Literal('cli')) }),
    target: { type: 'org_export', from: 'export_id' },
  },
  'org_export.downloaded': {
    description: 'an owner downloaded a whole-org export',
    metadata: Meta({ export_id: Type.String(), size: Type.Number() }),
    target: { type: 'org_export', from: 'export_id' },
  },
  'org_export.expired': {
    description: 'a whole-org export passed its 24 hours; its encrypted ZIP was deleted',
    metadata: Meta({ export_id: Type.String() }),
    target: { type: 'org_export', from: 'export_id' },
  },
  // Keys (rampart keys): recorded by the operator's command, under the system actor.
  'keys.tenant_key_rotated': {
    description: "a new version of the org's vault key-encryption key was made; older versions wrap data keys until rewrapped",
    metadata: Meta({ version: Type.Number() }),
    target: { type: 'org', from: 'tenant' },
  },
  'keys.signing_key_rotated': {
    description: 'a new access-token signing key was made; metadata holds its kid, the keys retired and whether the previous one was dropped at once',
    metadata: Meta({ kid: Type.String(), retired: Type.Array(Type.String()), dropped_previous: Type.Boolean() }),
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
  'backup.restored': {
    description: 'this database was restored from a backup (recorded in the restored database, with its rows); metadata holds the backup, the environments, any --override-env reason and the erasures re-applied',
    metadata: Meta({
      backup_id: Type.String(),
      backup_created_at: Type.String(),
      source_env: Type.String(),
      restored_by_env: Type.String(),
      override_reason: Type.Union([Type.String(), Type.Null()]),
      erasures_replayed: Type.Number(),
      keys_destroyed: Type.Number(),
    }),
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
