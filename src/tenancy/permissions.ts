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
  | 'audit:read';

const MEMBER: readonly Permission[] = ['org:read', 'members:read', 'audit:read'];
const ADMIN: readonly Permission[] = [...MEMBER, 'settings:update', 'members:update', 'members:remove', 'members:invite', 'api_keys:read', 'api_keys:create', 'api_keys:revoke'];
const OWNER: readonly Permission[] = [...ADMIN, 'owners:manage', 'org:delete', 'org:export'];

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
