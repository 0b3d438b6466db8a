import { createHash } from 'node:crypto';
import { appendToChains } from '../src/audit/chain.js';
import { canonicalEntry } from '../src/audit/canonical.js';
import { verifyChain, chainedEntryOf } from '../src/audit/verify.js';
import { PGlite } from '@electric-sql/pglite';
import { fromPglite, migrate, openPostgres, PGLITE_PARSERS, withTenant } from '../src/platform/db/index.js';
import { randomUUID } from 'node:crypto';

const database = process.env.VPROF_PG ? openPostgres(process.env.VPROF_PG, 4) : fromPglite(await PGlite.create({ parsers: PGLITE_PARSERS }));
await migrate(database.db);
const db = database.db;
const tenant = randomUUID();
const N = 20000;
for (let i = 0; i < N; i += 2000) await appendToChains(db, [{ tenantId: tenant, entries: Array.from({ length: 2000 }, (_, k) => ({ at: new Date(), action: 'seed.created', actor: { type: 'system' as const, id: `seeder-${k % 7}` }, target: { type: 'thing', id: `thing-${i + k}` }, requestId: randomUUID(), metadata: { index: i + k, note: 'x'.repeat(40), nested: { a: 1, b: [1, 2, 3] } }, personal: null, subjectId: null })) }]);
const rows = await withTenant(db, tenant, (trx) => trx.selectFrom('audit_entries').selectAll().where('tenant_id', '=', tenant).orderBy('seq').execute());
const canonical = rows.map((row) => canonicalEntry(chainedEntryOf(row)));
for (let r = 0; r < 3; r++) {
  let s = performance.now();
  for (const bytes of canonical) createHash('sha256').update(bytes).digest();
  const raw = N / ((performance.now() - s) / 1000);
  s = performance.now();
  for (const row of rows) canonicalEntry(chainedEntryOf(row));
  const canon = N / ((performance.now() - s) / 1000);
  s = performance.now();
  await withTenant(db, tenant, (trx) => trx.selectFrom('audit_entries').selectAll().where('tenant_id', '=', tenant).orderBy('seq').execute());
  const read = N / ((performance.now() - s) / 1000);
  s = performance.now();
  const v = await verifyChain(db, tenant);
  const ver = N / ((performance.now() - s) / 1000);
  console.log({ raw: Math.round(raw), canon: Math.round(canon), read: Math.round(read), verify: Math.round(ver), ratio: (ver / raw).toFixed(3), valid: v.valid });
}
await database.close();
