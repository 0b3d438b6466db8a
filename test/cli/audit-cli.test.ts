import { randomUUID } from 'node:crypto';
import { copyFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendToChains } from '../../src/audit/chain.js';
import { inclusionProof } from '../../src/audit/proofs.js';
import { createAuditRetention } from '../../src/audit/retention.js';
import { archiveKey } from '../../src/backup/index.js';
import { runDatabaseVerb } from '../../src/cli/execute.js';
import type { VerbEvent } from '../../src/cli/events.js';
import { auditVerb } from '../../src/cli/verbs/audit.verb.js';
import { VERBS } from '../../src/cli/verbs/index.js';
import { loadConfig } from '../../src/config.js';
import { listAllPublicKeys } from '../../src/crypto/signing-keys.js';
import { openRuntime } from '../../src/runtime.js';
import type { Runtime } from '../../src/runtime.js';
import { asSuperuserWithoutTriggers, signCheckpoint } from '../audit/chain-support.js';
import { seedEntry } from '../audit/routes-support.js';
import { TEST_ROOT_KEY } from '../helpers/app.js';
import { createDataDir, createEngine, expectOneLine, runCli } from './process.js';
import type { Engine, Env } from './process.js';

/**
 * `rampart audit verify` and `rampart audit verify-proof`, as an operator runs them (a process of
 * their own on the data folder), plus the progress the verb reports while it works.
 */
// Every CLI run is a process that opens the database itself (on PGlite, one at a time).
describe('rampart audit', { timeout: 180_000 }, () => {
  let data: Awaited<ReturnType<typeof createDataDir>>;
  let engine: Engine;
  let env: Env;
  const orgA = randomUUID();
  const orgB = randomUUID();

  async function withRuntime<T>(work: (runtime: Runtime) => Promise<T>): Promise<T> {
    const runtime = await openRuntime(loadConfig(env), { migrate: true });
    try {
      return await work(runtime);
    } finally {
      await runtime.close();
    }
  }

  beforeAll(async () => {
    data = await createDataDir();
    engine = await createEngine();
    env = { RAMPART_DATA_DIR: join(data.dir, 'data'), RAMPART_ROOT_KEY: TEST_ROOT_KEY, ...engine.env };
    await withRuntime(async ({ database: { db } }) => {
      await appendToChains(db, [
        { tenantId: orgA, entries: Array.from({ length: 30 }, (_, index) => seedEntry(index, new Date())) },
        { tenantId: orgB, entries: Array.from({ length: 5 }, (_, index) => seedEntry(index, new Date())) },
      ]);
      await signCheckpoint(db, orgA);
    });
  }, 60_000);
  afterAll(async () => {
    await engine.drop();
    await data.remove();
  });

  it('verify checks every chain, with a progress bar over all their entries', async () => {
    const events: VerbEvent[] = [];
    const result = await withRuntime((runtime) =>
      runDatabaseVerb(auditVerb, runtime, { input: { options: {}, positionals: ['verify'] }, sink: (event) => events.push(event), verbs: VERBS, host: { kind: 'direct' }, signal: new AbortController().signal }),
    );
    expect(result).toMatchObject({ action: 'verify', valid: true });
    expect((result as { chains: Array<{ tenant: string; entries: number }> }).chains.map(({ tenant, entries }) => ({ tenant, entries }))).toEqual(
      expect.arrayContaining([{ tenant: orgA, entries: 30 }, { tenant: orgB, entries: 5 }]),
    );
    expect(events[0]).toMatchObject({ type: 'progress-start', label: 'Verifying', total: 35 });
    const progress = events.filter((event): event is Extract<VerbEvent, { type: 'progress' }> => event.type === 'progress');
    expect(progress.at(-1)!.value).toBe(35);
    expect(events.at(-1)).toMatchObject({ type: 'progress-stop' });

    const { code, stdout, stderr } = await runCli(['audit', 'verify', '--org', orgB], env);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/The audit log is intact: 1 chain, 5 entries checked/);
  });

  it('verify-proof checks an inclusion proof offline, with the keys from the database or from a file', async () => {
    const { proof, keys } = await withRuntime(async ({ database: { db } }) => ({
      proof: await inclusionProof(db, orgA, 7, 30),
      keys: await listAllPublicKeys(db, 'audit-checkpoint'),
    }));
    const proofFile = join(data.dir, 'proof.json');
    const jwksFile = join(data.dir, 'jwks.json');
    const forgedFile = join(data.dir, 'forged.json');
    await writeFile(proofFile, JSON.stringify(proof));
    await writeFile(jwksFile, JSON.stringify({ keys }));
    await writeFile(forgedFile, JSON.stringify({ ...proof, entry_hash: '00'.repeat(32) }));
    // One after another: on PGlite each process waits for the data folder anyway.
    const fromFile = await runCli(['audit', 'verify-proof', '--proof', proofFile, '--jwks', jwksFile], env);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stdout).toMatch(/inclusion proof verifies/);
    const fromDatabase = await runCli(['audit', 'verify-proof', '--proof', proofFile], env);
    expect(fromDatabase.code, fromDatabase.stderr).toBe(0);
    const forged = await runCli(['audit', 'verify-proof', '--proof', forgedFile], env);
    expect(forged.code).toBe(1);
    expectOneLine(forged.stderr, /inclusion proof does NOT verify/);
    const missing = await runCli(['audit', 'verify-proof'], env);
    expect(missing.code).toBe(2);
    expectOneLine(missing.stderr, /--proof <file> is required/);
  });

  it('verify-proof with --jwks needs no database, and names the failure and its reason', async () => {
    const { proof, keys } = await withRuntime(async ({ database: { db } }) => ({
      proof: await inclusionProof(db, orgA, 3, 30),
      keys: await listAllPublicKeys(db, 'audit-checkpoint'),
    }));
    const proofFile = join(data.dir, 'offline-proof.json');
    const forgedFile = join(data.dir, 'offline-forged.json');
    const jwksFile = join(data.dir, 'offline-jwks.json');
    await writeFile(proofFile, JSON.stringify(proof));
    await writeFile(forgedFile, JSON.stringify({ ...proof, entry_hash: '00'.repeat(32) }));
    await writeFile(jwksFile, JSON.stringify({ keys }));
    // A tenant's machine: no Rampart data folder, and no database that answers.
    const nowhere = { RAMPART_DATA_DIR: join(data.dir, 'no-rampart-here'), RAMPART_ROOT_KEY: TEST_ROOT_KEY, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const valid = await runCli(['audit', 'verify-proof', '--proof', proofFile, '--jwks', jwksFile], nowhere);
    expect(valid.code, valid.stderr).toBe(0);
    expect(valid.stdout).toMatch(/inclusion proof verifies/);
    const forged = await runCli(['audit', 'verify-proof', '--proof', forgedFile, '--jwks', jwksFile], nowhere);
    expect(forged.code).toBe(1);
    expectOneLine(forged.stderr, /inclusion proof does NOT verify: proof_mismatch: the proof does not show entry 3/);
    const notAKeySet = await runCli(['audit', 'verify-proof', '--proof', proofFile, '--jwks', join(data.dir, 'offline-proof.json')], nowhere);
    expect(notAKeySet.code).toBe(1);
    expectOneLine(notAKeySet.stderr, /has no "keys" list/);
    expect(await stat(join(data.dir, 'no-rampart-here')).catch(() => null)).toBeNull();
  });

  it('archive-read decrypts a retention archive and checks it, with or without a database', async () => {
    const orgC = randomUUID();
    const archiveDir = join(data.dir, 'audit-archive');
    const archived = await withRuntime(async ({ database: { db }, rootKey }) => {
      const longAgo = new Date(Date.now() - 40 * 86_400_000);
      await appendToChains(db, [{ tenantId: orgC, entries: Array.from({ length: 6 }, (_, index) => seedEntry(index, longAgo)) }]);
      await signCheckpoint(db, orgC);
      const retention = createAuditRetention({ db, clock: { now: () => new Date() }, retentionDays: 30, archiveDir, archiveKey: archiveKey(rootKey, 'audit-archive'), publicKeys: () => listAllPublicKeys(db, 'audit-checkpoint') });
      return (await retention.archiveChain(orgC))!;
    });
    const file = join(archiveDir, archived.file);
    const jwksFile = join(data.dir, 'archive-jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: await withRuntime(({ database: { db } }) => listAllPublicKeys(db, 'audit-checkpoint')) }));
    const offline = await runCli(['audit', 'archive-read', file, '--jwks', jwksFile], { ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout).toMatch(new RegExp(`archive .* is intact: 6 entries of org ${orgC} \\(seq 0 to 5\\).*SHA-256 ${archived.sha256}`));
    const fromDatabase = await runCli(['audit', 'archive-read', file], env);
    expect(fromDatabase.code, fromDatabase.stderr).toBe(0);
    const renamed = join(data.dir, 'renamed.ndjson.gz.enc');
    await copyFile(file, renamed);
    const refused = await runCli(['audit', 'archive-read', renamed, '--jwks', jwksFile], env);
    expect(refused.code).toBe(1);
    expectOneLine(refused.stderr, /does NOT verify: .*authentication failed/);
  });

  it('verify exits 1 with one line naming the chain and the first invalid seq after tampering', async () => {
    await withRuntime(({ database: { db } }) =>
      asSuperuserWithoutTriggers(db, (trx) => sql`update audit_entries set metadata = '{"index": -1}' where tenant_id = ${orgA} and seq = 12`.execute(trx)),
    );
    const all = await runCli(['audit', 'verify'], env);
    expect(all.code).toBe(1);
    expectOneLine(all.stderr, new RegExp(`NOT intact.*org ${orgA}: first invalid entry seq 12`));
    const bad = await runCli(['audit', 'verify', '--org', 'not-an-id'], env);
    expect(bad.code).toBe(2);
    expectOneLine(bad.stderr, /--org must be an org id/);
  });
});
