import { defineErrors } from '../../platform/http/index.js';

export const retentionErrors = defineErrors({
  not_found: { status: 404, message: 'Not found' },
  already_held: { status: 409, message: 'This record is already under legal hold' },
});
