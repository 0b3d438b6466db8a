import type { Verb } from '../verb.js';
import { adminVerb } from './admin.verb.js';
import { auditVerb } from './audit.verb.js';
import { backupVerb } from './backup.verb.js';
import { exportVerb } from './export.verb.js';
import { helpVerb } from './help.verb.js';
import { keysVerb } from './keys.verb.js';
import { mailVerb } from './mail.verb.js';
import { migrateVerb } from './migrate.verb.js';
import { statusVerb } from './status.verb.js';

/**
 * Every `rampart` verb, in the order `rampart help` lists them. A new verb is one module in this
 * folder and one line here; the dispatcher and the admin channel need no change.
 */
export const VERBS: readonly Verb[] = [helpVerb, statusVerb, migrateVerb, mailVerb, keysVerb, adminVerb, auditVerb, backupVerb, exportVerb];
