import { defineErrors } from '../platform/http/index.js';

export const webhookErrors = defineErrors({
  not_found: { status: 404, message: 'Not found' },
  invalid_url: { status: 400, message: 'The webhook URL must be an absolute https:// URL without credentials (http://127.0.0.1 or localhost only outside production)' },
  invalid_cursor: { status: 400, message: 'The cursor is not one this list returned' },
});
