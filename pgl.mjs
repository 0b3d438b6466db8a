import { PGlite } from '@electric-sql/pglite';
const t0=Date.now();
const db = new PGlite();
await db.waitReady;
console.log('ready', Date.now()-t0);
await db.exec(`
create role rampart_app nologin;
create table t (tenant_id uuid not null, id int, v text, primary key(tenant_id,id));
alter table t enable row level security; alter table t force row level security;
create policy iso on t using (tenant_id = nullif(current_setting('rampart.tenant_id', true),'')::uuid) with check (tenant_id = nullif(current_setting('rampart.tenant_id', true),'')::uuid);
grant select, insert, update, delete on t to rampart_app;
insert into t values ('00000000-0000-0000-0000-000000000001',1,'a'),('00000000-0000-0000-0000-000000000002',1,'b');
`);
console.log(await db.query('select current_user, (select rolbypassrls from pg_roles where rolname=current_user) b'));
await db.exec('begin'); await db.exec('set local role rampart_app');
console.log((await db.query('select * from t')).rows);
await db.query(`select set_config('rampart.tenant_id',$1,true)`,['00000000-0000-0000-0000-000000000001']);
console.log((await db.query('select * from t')).rows);
const r = await db.query('update t set v=$1', ['x']); console.log('aff', r.affectedRows);
try { await db.query(`insert into t values ('00000000-0000-0000-0000-000000000002',2,'z')`);} catch(e){console.log('err',e.message)}
await db.exec('rollback');
const s = await db.query('select 1 as x'); console.log('select aff', s.affectedRows, s);
console.log(await db.query('select pg_advisory_lock(1)'));
const dump = await db.dumpDataDir('none'); console.log('dump', dump.size, Date.now()-t0);
const t1=Date.now(); const db2 = new PGlite({loadDataDir: dump}); await db2.waitReady; console.log('load', Date.now()-t1, (await db2.query('select count(*)::int c from t')).rows);
console.log((await db.query('select version()')).rows);
