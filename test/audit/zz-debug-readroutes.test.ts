import { it } from 'vitest';
import { createTestApp } from '../helpers/app.js';
import { FakeClock } from '../helpers/clock.js';
import { RELAXED_LIMITS } from '../identity/support.js';
import { auditClient } from './routes-support.js';
import { entryHash } from '../../src/audit/canonical.js';

it('debug', { timeout: 120_000 }, async () => {
  const t = await createTestApp(RELAXED_LIMITS, { clock: new FakeClock('2026-11-02T09:00:00Z') });
  const audit = auditClient(t);
  const org = await audit.orgWithKeys();
  await Promise.all(Array.from({ length: 20 }, () => audit.write(org.writer, org.id, { action: 'x.y' })));
  const rows = await t.db.database.db.selectFrom('audit_entries').selectAll().where('tenant_id', '=', org.id).orderBy('seq').execute();
  for (const row of rows) {
    const h = entryHash({ tenantId: row.tenant_id, seq: row.seq, id: row.id, at: row.at, action: row.action, actor: { type: row.actor_type, id: row.actor_id }, target: row.target_type === null ? null : { type: row.target_type, id: row.target_id! }, requestId: row.request_id, metadata: row.metadata as Record<string, unknown>, personal: row.personal ? Buffer.from(row.personal) : null, subjectId: row.subject_id, prevHash: Buffer.from(row.prev_hash) });
    console.log(row.seq, row.action, row.at.toISOString(), JSON.stringify(row.metadata), Buffer.from(row.hash).equals(h));
  }
  console.log((await audit.get(org.owner.token, `/v1/orgs/${org.id}/audit/verify`)).body);
  await t.close();
});
