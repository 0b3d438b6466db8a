import { defineErrors } from '../../platform/http/index.js';

/** Data-subject requests' error catalogue. Messages never hold a subject id or an address. */
export const dsrErrors = defineErrors({
  not_found: { status: 404, message: 'Not found' },
  duplicate: { status: 409, message: 'An open request of this type for this data subject already exists' },
  closed: { status: 409, message: 'This request is closed (completed or rejected)' },
  wrong_type: { status: 409, message: 'This step does not apply to this type of request' },
  transition: { status: 409, message: 'This request cannot move to that status from its current one' },
  already_extended: { status: 409, message: 'This request was already extended; Art. 12(3) allows one extension of up to two months' },
  already_applied: { status: 409, message: 'These corrections were already applied' },
  no_receipt: { status: 409, message: 'The erasure is not complete yet; the receipt is issued when it is' },
  invalid_request: { status: 400, message: 'The request is not valid' },
  unknown_record: { status: 404, message: "A correction names a record that does not exist or is not this data subject's" },
  invalid_cursor: { status: 400, message: 'The cursor is not one this list returned' },
});
