/**
 * Whoever holds a copy of the database, or of the file store, without the root key must read no
 * vault data. This writes records, subject ids and files holding known markers, then reads every
 * table of the database as text (bytea shows as hex, so the markers are searched in hex too) and
 * every byte of the file store, and finds none of them.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { useVaultApp, vaultClient } from './support.js';

describe('what a copy of the database or file store shows', () => {
  const state = useVaultApp();

  it('holds no plaintext of records, subject ids or files', async () => {
    const api = vaultClient(state.t);
    const org = await api.org();
    const markers = ['MARKER-RECORD-DATA-9d2f', 'marker-subject-7c1e@example.test', 'MARKER-FILE-CONTENT-41ab', 'MARKER-TENANT-DATA-5e3c'];
    expect((await api.put(org.admin.token, org.id, 'guests', 'g1', { data: { note: markers[0] }, subject_id: markers[1], category: 'health' })).statusCode).toBe(201);
    expect((await api.put(org.admin.token, org.id, 'guests', 'g2', { data: { note: markers[3] } })).statusCode).toBe(201);
    expect((await api.putFile(org.admin.token, org.id, 'scan.pdf', Buffer.from(`%PDF ${markers[2]} ${markers[2]}`), { 'x-rampart-subject-id': markers[1]! })).statusCode).toBe(201);
    await api.get(org.admin.token, org.id, 'guests', 'g1');

    const db = state.t.db.database.db;
    const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`.execute(db);
    expect(tables.rows.length).toBeGreaterThan(10);
    let dump = '';
    for (const { name } of tables.rows) {
      const rows = await sql<{ row: string }>`select t::text as row from ${sql.table(name)} t`.execute(db);
      dump += rows.rows.map((row) => row.row).join('\n');
    }
    expect(dump).toContain(org.id);
    let store = Buffer.alloc(0);
    for (const file of await readdir(join(state.fileDir, org.id))) store = Buffer.concat([store, await readFile(join(state.fileDir, org.id, file))]);
    expect(store.length).toBeGreaterThan(0);

    for (const marker of markers) {
      const hex = Buffer.from(marker).toString('hex');
      expect(dump).not.toContain(marker);
      expect(dump.toLowerCase()).not.toContain(hex);
      expect(store.includes(Buffer.from(marker))).toBe(false);
    }
  });
});
