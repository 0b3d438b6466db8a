/** Roles in an organization, strongest first. */
export const ROLES = ['owner', 'admin', 'member'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Everything a route may ask `authorize` for. Permissions are data: a role's rights are the
 * table below, and a plan can switch a feature off for an org by removing its permissions.
 */
export type Permission =
  | 'org:read'
  | 'settings:update'
  | 'org:delete'
  | 'org:export'
  | 'members:read'
  | 'members:update'
  | 'members:remove'
  | 'members:invite'
  | 'owners:manage'
  | 'api_keys:read'
  | 'api_keys:create'
  | 'api_keys:revoke'
  | 'audit:read'
  | 'audit:write'
  | 'records:read'
  | 'records:write'
  | 'dsr:read'
  | 'dsr:write'
  | 'consent:read'
  | 'consent:write'
  | 'legal_holds:manage';

// "Members read" (API.md). Admins handle data-subject requests (issue 7: "created by org admins
// or by an API key with dsr:write"); the whole-org export stays with owners.
const MEMBER: readonly Permission[] = ['org:read', 'members:read', 'audit:read', 'records:read', 'dsr:read', 'consent:read'];
const ADMIN: readonly Permission[] = [
  ...MEMBER,
  'settings:update',
  'members:update',
  'members:remove',
  'members:invite',
  'api_keys:read',
  'api_keys:create',
  'api_keys:revoke',
  'audit:write',
  'records:write',
  'consent:write',
  'dsr:write',
];
// Legal holds override retention, a decision with legal weight: owners only, like the org export.
const OWNER: readonly Permission[] = [...ADMIN, 'owners:manage', 'org:delete', 'org:export', 'legal_holds:manage'];

export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  owner: new Set(OWNER),
  admin: new Set(ADMIN),
  member: new Set(MEMBER),
};

export const PLANS = ['free', 'growth', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];

export type MfaPolicy = 'none' | 'owners' | 'admins' | 'all';
const MFA_POLICIES: readonly MfaPolicy[] = ['none', 'owners', 'admins', 'all'];

/**
 * What a plan means for an org on it: permissions it switches off whatever the role (feature
 * gating), and the weakest MFA policy its orgs may have.
 */
export interface PlanPolicy {
  name: Plan;
  disabled: ReadonlySet<Permission>;
  minimumMfa: MfaPolicy;
}

/** The defaults; RAMPART_PLANS overrides them per plan (see parsePlanPolicies). */
export const DEFAULT_PLAN_POLICIES: Readonly<Record<Plan, PlanPolicy>> = {
  free: { name: 'free', disabled: new Set<Permission>(['org:export']), minimumMfa: 'none' },
  growth: { name: 'growth', disabled: new Set<Permission>(), minimumMfa: 'owners' },
  enterprise: { name: 'enterprise', disabled: new Set<Permission>(), minimumMfa: 'owners' },
};

const ALL_PERMISSIONS = new Set<string>(Object.values(ROLE_PERMISSIONS).flatMap((set) => [...set]));

/**
 * Reads RAMPART_PLANS: `{"<plan>": {"disabled": ["<permission>", ...], "mfa_required_for": "<policy>"}}`;
 * a plan or field left out keeps its default. Throws a message naming what is wrong.
 */
export function parsePlanPolicies(json: string | null): Record<Plan, PlanPolicy> {
  const policies: Record<Plan, PlanPolicy> = { ...DEFAULT_PLAN_POLICIES };
  if (json === null) return policies;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error('RAMPART_PLANS must be a JSON object of plan names to {disabled, mfa_required_for}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('RAMPART_PLANS must be a JSON object');
  for (const [name, value] of Object.entries(parsed)) {
    if (!(PLANS as readonly string[]).includes(name)) throw new Error(`RAMPART_PLANS: unknown plan "${name}" (plans: ${PLANS.join(', ')})`);
    const { disabled, mfa_required_for: mfa } = (value ?? {}) as { disabled?: unknown; mfa_required_for?: unknown };
    const plan = name as Plan;
    if (disabled !== undefined) {
      if (!Array.isArray(disabled) || disabled.some((item) => typeof item !== 'string' || !ALL_PERMISSIONS.has(item))) {
        throw new Error(`RAMPART_PLANS.${plan}.disabled must list permissions from: ${[...ALL_PERMISSIONS].join(', ')}`);
      }
    }
    if (mfa !== undefined && !(MFA_POLICIES as readonly unknown[]).includes(mfa)) {
      throw new Error(`RAMPART_PLANS.${plan}.mfa_required_for must be one of ${MFA_POLICIES.join(', ')}`);
    }
    policies[plan] = {
      name: plan,
      disabled: disabled === undefined ? policies[plan].disabled : new Set(disabled as Permission[]),
      minimumMfa: (mfa as MfaPolicy | undefined) ?? policies[plan].minimumMfa,
    };
  }
  return policies;
}

/** Whether moving an org from `current` to `next` covers fewer roles. */
export function loosensMfa(current: MfaPolicy, next: MfaPolicy): boolean {
  return MFA_POLICIES.indexOf(next) < MFA_POLICIES.indexOf(current);
}

/** The stricter of an org's own MFA policy and its plan's minimum. */
export function effectiveMfaPolicy(orgPolicy: MfaPolicy, plan: PlanPolicy): MfaPolicy {
  return MFA_POLICIES[Math.max(MFA_POLICIES.indexOf(orgPolicy), MFA_POLICIES.indexOf(plan.minimumMfa))]!;
}

/** Whether `role` on `plan` holds `permission`. */
export function roleAllows(role: Role, plan: PlanPolicy, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission) && !plan.disabled.has(permission);
}

/** What an org API key may be granted (API.md's list); nothing else is ever a scope. */
export const SCOPES = ['audit:read', 'audit:write', 'records:read', 'records:write', 'dsr:read', 'dsr:write', 'consent:read', 'consent:write', 'members:read'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * The permissions each scope grants a key. Settings, roles, members' management and keys
 * themselves are in no scope: a leaked key can never manage the org or mint more keys.
 */
export const SCOPE_PERMISSIONS: Readonly<Record<Scope, readonly Permission[]>> = {
  'audit:read': ['audit:read'],
  'audit:write': ['audit:write'],
  'records:read': ['records:read'],
  'records:write': ['records:write'],
  'dsr:read': ['dsr:read'],
  'dsr:write': ['dsr:write'],
  'consent:read': ['consent:read'],
  'consent:write': ['consent:write'],
  'members:read': ['members:read'],
};

/** Whether a key holding `scopes`, in an org on `plan`, may use `permission`; the plan binds keys too. */
export function scopesAllow(scopes: readonly Scope[], plan: PlanPolicy, permission: Permission): boolean {
  return scopes.some((scope) => SCOPE_PERMISSIONS[scope].includes(permission)) && !plan.disabled.has(permission);
}

/** Whether `role` may put `scope` on a key: only if the role itself holds everything the scope grants. */
export function roleMayGrant(role: Role, plan: PlanPolicy, scope: Scope): boolean {
  return SCOPE_PERMISSIONS[scope].every((permission) => roleAllows(role, plan, permission));
}

/** Ranks for "at least" comparisons: an admin may not act on an owner. */
export function rank(role: Role): number {
  return ROLES.length - ROLES.indexOf(role);
}

/** Whether an org's MFA policy covers a member of `role`. */
export function mfaRequiredFor(policy: MfaPolicy, role: Role): boolean {
  if (policy === 'all') return true;
  if (policy === 'admins') return role === 'owner' || role === 'admin';
  if (policy === 'owners') return role === 'owner';
  return false;
}
