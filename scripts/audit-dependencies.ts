/**
 * `npm audit` of the production dependencies (issue 9, supply chain): fails on any high or
 * critical advisory. When the registry's advisory endpoint cannot be reached (this project's
 * build machines answer 405 to its bulk endpoint), it says so and exits 2: an audit that did not
 * run is never reported as a pass. See docs/reliability.md.
 */
import { spawnSync } from 'node:child_process';

interface AuditReport {
  message?: string;
  error?: { summary?: string; detail?: string };
  metadata?: { vulnerabilities?: Record<string, number> };
}

const result = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8' });
let report: AuditReport;
try {
  report = JSON.parse(result.stdout) as AuditReport;
} catch {
  report = { error: { summary: result.stderr.trim().split('\n').at(-1) ?? 'no output' } };
}
const counts = report.metadata?.vulnerabilities;
if (report.error || !counts) {
  const reason = report.message || report.error?.summary || 'no report';
  console.error(`audit: NOT RUN — the advisory endpoint could not be used (${reason}); this is not a pass`);
  process.exit(2);
}
const serious = (counts.high ?? 0) + (counts.critical ?? 0);
console.log(`audit: production dependencies — ${Object.entries(counts).map(([level, count]) => `${level} ${count}`).join(', ')}`);
if (serious > 0) {
  console.error(`audit: ${serious} high or critical advisories; see \`npm audit --omit=dev\``);
  process.exit(1);
}
