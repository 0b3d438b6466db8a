import { deriveKey } from '../../crypto/root-key.js';
import { rotateSigningKey } from '../../crypto/signing-keys.js';
import { SIGNING_KEY_REFRESH_MS } from '../../identity/index.js';
import { UsageError } from '../verb.js';
import type { DatabaseVerb } from '../verb.js';

type KeysResult = { purpose: string; kid: string; retired: string[]; dropped: boolean };

/** `rampart keys rotate`: a new access-token signing key; the previous one stays in the JWKS. */
export const keysVerb: DatabaseVerb<KeysResult> = {
  name: 'keys',
  summary: 'Rotate the access-token signing key (rampart keys rotate)',
  usage: 'rampart keys rotate [--drop-previous]',
  access: 'shared',
  needsCurrentSchema: true,
  maxPositionals: 1,
  options: {
    'drop-previous': { type: 'boolean', description: '--drop-previous  stop trusting the previous key at once (it may be compromised); signs everybody out' },
  },
  async run({ database, input, rootKey }) {
    if (input.positionals[0] !== 'rotate') throw new UsageError('keys: say what to do, e.g. rampart keys rotate');
    const dropPrevious = input.options['drop-previous'] === true;
    const result = await rotateSigningKey(database.db, deriveKey(rootKey, 'signing-keys'), 'access-token', new Date(), { dropPrevious });
    return { purpose: 'access-token', dropped: dropPrevious, ...result };
  },
  render({ kid, retired, dropped }) {
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
