import { defineErrors } from '../platform/http/index.js';

/** The vault's error catalogue. Messages never hold record data or subject ids. */
export const vaultErrors = defineErrors({
  not_found: { status: 404, message: 'Not found' },
  erased: { status: 404, message: 'This belonged to an erased data subject: its key was destroyed and it can no longer be read' },
  // 409, not 500: the stored value is intact but not where it was written (moved or altered in the
  // database or file store); retrying cannot help and nothing is wrong with the server itself.
  undecryptable: { status: 409, message: 'The stored value failed authentication (moved or altered outside Rampart); it was not returned' },
  record_too_large: { status: 413, message: 'The record data is larger than RAMPART_VAULT_MAX_RECORD_BYTES' },
  file_too_large: { status: 413, message: 'The file is larger than RAMPART_VAULT_MAX_FILE_BYTES' },
  invalid_cursor: { status: 400, message: 'The cursor is not one this list returned' },
  invalid_name: { status: 400, message: 'Collection and key names are 1 to 128 letters, digits, "_", "." or "-", starting with a letter or digit' },
});
