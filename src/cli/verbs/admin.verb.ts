import { createPlatformStaff } from '../../identity/index.js';
import { AppError } from '../../platform/http/index.js';
import { UsageError, VerbError } from '../verb.js';
import type { DatabaseVerb } from '../verb.js';

type AdminResult = { id: string; email: string; initial_password: string };

/** `rampart admin create`: the only way a platform staff account comes to exist. */
export const adminVerb: DatabaseVerb<AdminResult> = {
  name: 'admin',
  summary: 'Create a platform staff account (rampart admin create --email <address>)',
  usage: 'rampart admin create --email <address> [--name <name>]',
  access: 'shared',
  needsCurrentSchema: true,
  maxPositionals: 1,
  options: {
    email: { type: 'string', description: '--email <address>  the staff member’s email (required)' },
    name: { type: 'string', description: '--name <name>  their name' },
  },
  async run({ database, input, config }) {
    if (input.positionals[0] !== 'create') throw new UsageError('admin: say what to do, e.g. rampart admin create --email ops@vendor.example');
    const email = input.options.email;
    if (typeof email !== 'string') throw new UsageError('admin create: --email is required');
    const name = typeof input.options.name === 'string' ? input.options.name : null;
    try {
      const staff = await createPlatformStaff(database.db, config.identity.argon2, { email, name });
      return { id: staff.id, email: staff.email, initial_password: staff.initialPassword };
    } catch (error) {
      if (error instanceof AppError) throw new VerbError(error.message);
      throw error;
    }
  },
  render({ email, initial_password }) {
    return [
      `Created platform staff account ${email}.`,
      `Initial password (shown once): ${initial_password}`,
      'Sign in at /v1/platform/auth/login; the account must enrol TOTP before it can do anything else.',
    ].join('\n');
  },
};
