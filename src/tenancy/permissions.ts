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
  | 'consent:write';

// "Members read" (API.md). Subject-request writes (erasure destroys data for good, access and
// portability hand out everything held about a person) stay with owners, like the org export.
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
];
const OWNER: readonly Permission[] = [...ADMIN, 'owners:manage', 'org:delete', 'org:export', 'dsr:write'];

export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  owner: new Set(OWNER),
  admin: new Set(ADMIN),
  member: new Set(MEMBER),
};

export const PLANS = ['free', 'growth', 'enterprise'] as const;
export type Plan = (typeof PLANS)[number];

/** Permissions a plan switches off, whatever the role. */
export const PLAN_EXCLUSIONS: Readonly<Record<Plan, ReadonlySet<Permission>>> = {
  free: new Set<Permission>(['org:export']),
  growth: new Set<Permission>(),
  enterprise: new Set<Permission>(),
};

/** Whether `role` on `plan` holds `permission`. */
export function roleAllows(role: Role, plan: Plan, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].has(permission) && !PLAN_EXCLUSIONS[plan].has(permission);
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
export function scopesAllow(scopes: readonly Scope[], plan: Plan, permission: Permission): boolean {
  return scopes.some((scope) => SCOPE_PERMISSIONS[scope].includes(permission)) && !PLAN_EXCLUSIONS[plan].has(permission);
}

/** Whether `role` may put `scope` on a key: only if the role itself holds everything the scope grants. */
export function roleMayGrant(role: Role, plan: Plan, scope: Scope): boolean {
  return SCOPE_PERMISSIONS[scope].every((permission) => roleAllows(role, plan, permission));
}

/** Ranks for "at least" comparisons: an admin may not act on an owner. */
export function rank(role: Role): number {
  return ROLES.length - ROLES.indexOf(role);
}

export type MfaPolicy = 'none' | 'owners' | 'admins' | 'all';

/** Whether an org's MFA policy covers a member of `role`. */
export function mfaRequiredFor(policy: MfaPolicy, role: Role): boolean {
  if (policy === 'all') return true;
  if (policy === 'admins') return role === 'owner' || role === 'admin';
  if (policy === 'owners') return role === 'owner';
  return false;
}
