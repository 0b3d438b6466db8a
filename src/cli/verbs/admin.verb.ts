import { createPlatformStaff, disablePlatformStaff } from '../../identity/index.js';
import { AppError } from '../../platform/http/index.js';
import { UsageError, VerbError } from '../verb.js';
import type { DatabaseVerb } from '../verb.js';

type AdminResult =
  | { action: 'created'; id: string; email: string; initial_password: string }
  | { action: 'disabled'; id: string; email: string; sessions_revoked: number };

/** Domain errors (a taken email) become one operator line, not a stack. */
async function asVerbError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AppError) throw new VerbError(error.message);
    throw error;
  }
}

/** `rampart admin create|disable`: the only way platform staff accounts come and go. */
export const adminVerb: DatabaseVerb<AdminResult> = {
  name: 'admin',
  summary: 'Create or disable a platform staff account (rampart admin create|disable --email <address>)',
  usage: 'rampart admin create --email <address> [--name <name>] | rampart admin disable --email <address>',
  access: 'shared',
  needsCurrentSchema: true,
  maxPositionals: 1,
  options: {
    email: { type: 'string', description: '--email <address>  the staff member’s email (required)' },
    name: { type: 'string', description: '--name <name>  their name (create)' },
  },
  async run({ database, input, config }) {
    const action = input.positionals[0];
    if (action !== 'create' && action !== 'disable') throw new UsageError('admin: say what to do, e.g. rampart admin create --email ops@vendor.example');
    const email = input.options.email;
    if (typeof email !== 'string') throw new UsageError(`admin ${action}: --email is required`);
    if (action === 'disable') {
      const staff = await asVerbError(() => disablePlatformStaff(database.db, email, new Date()));
      return { action: 'disabled' as const, id: staff.id, email: staff.email, sessions_revoked: staff.sessionsRevoked };
    }
    const name = typeof input.options.name === 'string' ? input.options.name : null;
    const staff = await asVerbError(() => createPlatformStaff(database.db, config.identity.argon2, { email, name }));
    return { action: 'created' as const, id: staff.id, email: staff.email, initial_password: staff.initialPassword };
  },
  render(result) {
    if (result.action === 'disabled') {
      return `Disabled platform staff account ${result.email}: sign-in refused, ${result.sessions_revoked} session(s) revoked, issued tokens refused.`;
    }
    return [
      `Created platform staff account ${result.email}.`,
      `Initial password (shown once): ${result.initial_password}`,
      'Sign in at /v1/platform/auth/login; the account must enrol TOTP before it can do anything else.',
    ].join('\n');
  },
};
