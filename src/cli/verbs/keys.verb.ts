import { deriveKey } from '../../crypto/root-key.js';
import { rotateSigningKey } from '../../crypto/signing-keys.js';
import { SIGNING_KEY_REFRESH_MS } from '../../identity/index.js';
import { UsageError } from '../verb.js';
import type { DatabaseVerb } from '../verb.js';

type KeysResult = { purpose: string; kid: string; retired: string[] };

/** `rampart keys rotate`: a new access-token signing key; the previous one stays in the JWKS. */
export const keysVerb: DatabaseVerb<KeysResult> = {
  name: 'keys',
  summary: 'Rotate the access-token signing key (rampart keys rotate)',
  usage: 'rampart keys rotate',
  access: 'shared',
  needsCurrentSchema: true,
  maxPositionals: 1,
  async run({ database, input, rootKey }) {
    if (input.positionals[0] !== 'rotate') throw new UsageError('keys: say what to do, e.g. rampart keys rotate');
    const result = await rotateSigningKey(database.db, deriveKey(rootKey, 'signing-keys'), 'access-token', new Date());
    return { purpose: 'access-token', ...result };
  },
  render({ kid, retired }) {
    const seconds = SIGNING_KEY_REFRESH_MS / 1000;
    return [
      `New access-token signing key ${kid}; every node signs with it within ${seconds} s.`,
      retired.length > 0 ? `Retired ${retired.join(', ')}: still published at /.well-known/jwks.json, so tokens it signed stay valid until they expire.` : 'There was no previous key.',
    ].join('\n');
  },
};
