/**
 * Lockfile lint (issue 9, supply chain): every installed package must come from the npm registry
 * over HTTPS and carry a sha512 integrity hash, so `npm ci` cannot be pointed at a git repository,
 * a tarball URL, a local path or a plain-HTTP mirror by an edit to package-lock.json, and every
 * download is checked against the hash recorded when the dependency was reviewed. package.json's
 * own ranges must be registry versions too. Exits 1 with one line per problem.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const REGISTRY = 'https://registry.npmjs.org/';

interface LockedPackage {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
}

interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockedPackage>;
}

interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export function lockfileProblems(lock: Lockfile, manifest: Manifest): string[] {
  const problems: string[] = [];
  if (lock.lockfileVersion < 2) problems.push(`lockfileVersion ${lock.lockfileVersion}: regenerate with npm 7 or later`);
  for (const [path, entry] of Object.entries(lock.packages)) {
    // The root project, and workspace links, are not downloads.
    if (path === '' || entry.link) continue;
    if (entry.resolved !== undefined && !entry.resolved.startsWith(REGISTRY)) problems.push(`${path}: resolved from ${entry.resolved}, not ${REGISTRY}`);
    if (!entry.integrity?.startsWith('sha512-')) problems.push(`${path}: no sha512 integrity hash`);
    if (entry.version !== undefined && !/^\d+\.\d+\.\d+/.test(entry.version)) problems.push(`${path}: version "${entry.version}" is not a registry version`);
  }
  for (const [name, range] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
    if (/^(?:git|https?|file|link|github):|\/|^npm:/.test(range)) problems.push(`package.json: ${name}@"${range}" is not a registry version range`);
  }
  return problems;
}

function main(): void {
  const root = process.cwd();
  const read = <T>(file: string) => JSON.parse(readFileSync(join(root, file), 'utf8')) as T;
  const lock = read<Lockfile>('package-lock.json');
  const problems = lockfileProblems(lock, read<Manifest>('package.json'));
  for (const problem of problems) console.error(`lockfile: ${problem}`);
  if (problems.length > 0) process.exit(1);
  console.log(`lockfile: ${Object.keys(lock.packages).length - 1} packages, all from ${REGISTRY} with sha512 integrity`);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
