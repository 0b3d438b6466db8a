import { defineErrors } from '../../platform/http/index.js';

export const orgExportErrors = defineErrors({
  not_found: { status: 404, message: 'Not found' },
  export_expired: { status: 410, message: 'This export was available for 24 hours and has been deleted; request a new one' },
  export_failed: { status: 409, message: 'This export failed; request a new one' },
  owner_only: { status: 403, message: 'Only owners, signed in as themselves, may export the whole organization' },
});
