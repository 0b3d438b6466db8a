import { once } from 'node:events';
import { PassThrough, Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import yazl from 'yazl';
import type { ExportSection } from './sections.js';

export interface BuildProgress {
  /** Items written so far and the total the sections announced (records, files, consents, audit entries). */
  (done: number, total: number, section: string): void;
}

export interface BuildResult {
  items: number;
  total: number;
  sections: string[];
}

/** Counts the bytes that pass (the ZIP's size, as it is written). */
export function countBytes(counted: { bytes: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      counted.bytes += chunk.length;
      callback(null, chunk);
    },
  });
}

/** What the sections will count as they go: the progress bar's total. */
export async function countExportItems(tenantId: string, sections: ExportSection[]): Promise<number> {
  const totals = await Promise.all(sections.map((section) => section.items(tenantId)));
  return totals.reduce((sum, count) => sum + count, 0);
}

/**
 * Builds the whole-org ZIP as a stream: `consume` receives the ZIP bytes (writing them to the
 * store, a file, ...) while the sections are written one entry at a time. An entry's source is
 * opened only when the previous one has been read to its end, so memory stays at about one
 * entry's buffers whatever the org's size.
 */
export async function buildOrgZip(tenantId: string, sections: ExportSection[], consume: (zip: Readable) => Promise<void>, onProgress: BuildProgress = () => {}, knownTotal?: number): Promise<BuildResult> {
  const total = knownTotal ?? (await countExportItems(tenantId, sections));
  const zip = new yazl.ZipFile();
  let done = 0;
  let current = '';
  const tick = (items: number) => {
    done += items;
    onProgress(done, total, current);
  };
  const consumed = consume(zip.outputStream as Readable);

  async function write(): Promise<void> {
    const manifest: Array<{ section: string; files: string[] }> = [];
    for (const section of sections) {
      current = section.name;
      const files: string[] = [];
      for await (const entry of section.entries(tenantId, tick)) {
        const source = await entry.open();
        // yazl reads what it is given to the end; a source that fails mid-way (a tampered blob, a
        // lost database) must fail the export, not be handed to yazl as an error it cannot take.
        const failed = new Promise<never>((_resolve, reject) => source.on('error', reject));
        const passed = new PassThrough();
        const ended = once(passed, 'end');
        zip.addReadStream(source.pipe(passed), entry.path, { compress: true });
        await Promise.race([ended, failed]);
        files.push(entry.path);
      }
      manifest.push({ section: section.name, files });
    }
    zip.addBuffer(Buffer.from(`${JSON.stringify({ format: 'rampart-org-export/1', tenant_id: tenantId, items: done, sections: manifest }, null, 2)}\n`), 'manifest.json');
    zip.end();
  }

  try {
    await write();
  } catch (error) {
    // The consumer sees the failure too, and has cleaned up (a partial blob, a partial file) before this returns.
    (zip.outputStream as Readable).destroy(error as Error);
    await consumed.catch(() => {});
    throw error;
  }
  await consumed;
  onProgress(done, total, 'done');
  return { items: done, total, sections: sections.map((section) => section.name) };
}
