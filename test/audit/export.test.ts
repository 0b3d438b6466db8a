import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvCell } from '../../src/audit/export.js';
import { createTestApp } from '../helpers/app.js';
import type { TestApp } from '../helpers/app.js';
import { errorCode, RELAXED_LIMITS } from '../identity/support.js';
import { auditClient, seedChain, seedEntry } from './routes-support.js';
import type { AuditEvent } from './routes-support.js';

/** Rows of a CSV body (RFC 4180, as the export writes it: quoted cells may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        cell += '"';
        index++;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      row.push(cell);
      cell = '';
    } else if (char === '\r' && text[index + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      index++;
    } else cell += char;
  }
  return rows;
}

describe('audit export', () => {
  let t: TestApp;
  let audit: ReturnType<typeof auditClient>;

  beforeAll(async () => {
    t = await createTestApp(RELAXED_LIMITS);
    audit = auditClient(t);
  }, 60_000);
  afterAll(async () => t.close());

  it('streams every entry of a chain of thousands as NDJSON, oldest first, and audits the export', async () => {
    const org = await audit.orgWithKeys();
    const count = 3_500;
    await seedChain(t, org.id, count, (index) => seedEntry(index, new Date(Date.UTC(2026, 0, 1) + index * 1000)));
    const response = await audit.get(org.member.token, `/v1/orgs/${org.id}/audit/export?format=ndjson`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(response.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="audit-${org.id}-\\d{4}-\\d{2}-\\d{2}\\.ndjson"$`));
    const events = response.body.trimEnd().split('\n').map((line) => JSON.parse(line) as AuditEvent);
    const seeded = events.filter((event) => event.action === 'seed.created');
    expect(seeded.map((event) => event.metadata.index)).toEqual(Array.from({ length: count }, (_, index) => index));
    // The whole chain up to the export's own entry, in order, without gaps.
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index));

    const exported = (await audit.list(org.owner.token, org.id, { action: 'audit.exported' })).data;
    expect(exported).toHaveLength(1);
    expect(exported[0]).toMatchObject({ seq: events.length, actor: { type: 'user', id: org.member.id }, metadata: { format: 'ndjson' } });
  });

  it('writes CSV with a header row, quoting, and defused formulas', async () => {
    const org = await audit.orgWithKeys();
    const hostile = ['=HYPERLINK("http://evil.test","x")', '+1+1', '-2+3', '@SUM(A1)', '\tcmd', '\rcmd', 'plain, with "quotes"\nand a line break'];
    for (const [index, value] of hostile.entries()) {
      await audit.write(org.writer, org.id, { action: 'doc.shared', actor: { type: 'user', id: value.replace(/[\t\r\n]/g, ' ') }, target: { type: 'doc', id: `d${index}` }, metadata: { note: value } });
    }
    const response = await audit.get(org.owner.token, `/v1/orgs/${org.id}/audit/export?format=csv&action=doc.*`);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(response.headers['content-disposition']).toMatch(/^attachment; filename="audit-.+\.csv"$/);
    const rows = parseCsv(response.body);
    expect(rows[0]).toEqual(['id', 'seq', 'at', 'action', 'actor_type', 'actor_id', 'target_type', 'target_id', 'ip', 'user_agent', 'metadata', 'prev_hash', 'hash']);
    // The filter applies: only the doc.* events, oldest first.
    expect(rows.slice(1).map((row) => row[7])).toEqual(hostile.map((_, index) => `d${index}`));
    for (const row of rows.slice(1)) {
      for (const cell of row) expect(cell, cell).not.toMatch(/^[=+\-@\t\r]/);
    }
    expect(rows[1]![5]).toBe(`'=HYPERLINK("http://evil.test","x")`);
    expect(JSON.parse(rows[7]![10]!)).toEqual({ note: hostile[6] });
  });

  it('defuses every formula trigger in one cell, and quotes what RFC 4180 requires', () => {
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('+1')).toBe("'+1");
    expect(csvCell('-1')).toBe("'-1");
    expect(csvCell('@x')).toBe("'@x");
    expect(csvCell('\t=1')).toBe("'\t=1");
    expect(csvCell('\r=1')).toBe(`"'\r=1"`);
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('plain')).toBe('plain');
  });

  it('refuses an unknown format and a caller without audit:read', async () => {
    const org = await audit.orgWithKeys();
    const unknown = await audit.get(org.owner.token, `/v1/orgs/${org.id}/audit/export?format=xlsx`);
    expect(unknown.statusCode).toBe(400);
    expect(errorCode(unknown)).toBe('invalid_request');
    const writer = await audit.get(org.writer, `/v1/orgs/${org.id}/audit/export`);
    expect(writer.statusCode).toBe(403);
    // An audit:read key may export: the export holds what the list already shows it.
    expect((await audit.get(org.reader, `/v1/orgs/${org.id}/audit/export`)).statusCode).toBe(200);
    expect((await audit.list(org.owner.token, org.id, { action: 'audit.exported' })).data.map((event) => event.actor.type)).toEqual(['api_key']);
  });
});
