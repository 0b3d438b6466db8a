import { Type } from 'typebox';

/** Request and response pieces shared by the tenancy routes. */
export const RoleSchema = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
// Not a uuid format: a malformed org id must answer 404 like any org the caller cannot see, not 400.
export const OrgParams = Type.Object({ org: Type.String({ maxLength: 64 }) });
