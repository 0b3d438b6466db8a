import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/platform/paths.js';

/** Where the fault tests leave their measurements, for docs/reliability.md (not committed). */
export const FAULT_REPORT = join(PROJECT_ROOT, 'dist', 'faults-report.json');

/** Prints a fault test's measurements and merges them into FAULT_REPORT. */
export async function reportFault(name: string, figures: Record<string, unknown>): Promise<void> {
  const entry = { ...figures, date: new Date().toISOString(), cores: cpus().length };
  console.log(`fault ${name}: ${JSON.stringify(entry)}`);
  await mkdir(join(PROJECT_ROOT, 'dist'), { recursive: true });
  const existing = await readFile(FAULT_REPORT, 'utf8').then((text) => JSON.parse(text) as Record<string, unknown>, () => ({}));
  await writeFile(FAULT_REPORT, `${JSON.stringify({ ...existing, [name]: entry }, null, 2)}\n`);
}
