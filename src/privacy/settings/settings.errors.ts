import { defineErrors } from '../../platform/http/index.js';

export const settingsErrors = defineErrors({
  built_in_purpose: { status: 400, message: 'necessary, analytics and marketing are built in; list only the org\'s own purposes' },
});
