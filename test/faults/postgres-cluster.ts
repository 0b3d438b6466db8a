import { execFile } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../cli/process.js';
import { adminQuery } from '../helpers/global-setup.js';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL cluster in a temporary folder, built with the machine's own binaries, so
 * a test can stop and start the server under load without touching the shared one. initdb
 * refuses to run as root, so when the test is root every binary runs as the `postgres` OS user.
 */
export interface Cluster {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

async function binaries(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root)).sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error(`no PostgreSQL binaries under ${root}`);
  return join(root, versions[0]!, 'bin');
}

async function uidOf(user: string): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['-u', user]);
  const { stdout: group } = await run('id', ['-g', user]);
  return { uid: Number(stdout.trim()), gid: Number(group.trim()) };
}

export async function createCluster(): Promise<Cluster> {
  const bin = await binaries();
  const dir = await mkdtemp(join(tmpdir(), 'rampart-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { uid, gid } = await uidOf('postgres');
    await chown(dir, uid, gid);
  }
  const pg = (tool: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]) : run(join(bin, tool), args));
  const data = join(dir, 'data');
  const port = await freePort();
  await pg('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const start = async () => {
    await pg('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  };
  await start();
  const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await adminQuery(admin, 'create database rampart');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/rampart`,
    start,
    // fast: in-flight transactions are aborted and connections cut, as in a crash or failover.
    stop: async () => {
      await pg('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    destroy: async () => {
      await pg('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
