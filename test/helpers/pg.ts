/**
 * A throwaway PostgreSQL cluster for tests: initdb on a temp data dir (as the
 * postgres user: initdb and pg_ctl refuse root), listening on 127.0.0.1 and
 * a free port, its unix socket in the temp dir; no system service. Tests
 * skip with `pgMissing()` as the reason only when the binaries are absent.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/** $COLONY_PG_BIN, else Debian's newest /usr/lib/postgresql/<major>/bin. */
const BIN = process.env.COLONY_PG_BIN ?? newestDebianBin();

function newestDebianBin(): string {
  let majors: number[] = [];
  try {
    majors = readdirSync('/usr/lib/postgresql').map(Number).filter(Number.isFinite);
  } catch {
    // not installed
  }
  return `/usr/lib/postgresql/${majors.length ? Math.max(...majors) : 15}/bin`;
}

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function pgMissing(): string | null {
  if (!existsSync(join(BIN, 'initdb')) || !existsSync(join(BIN, 'pg_ctl')))
    return `PostgreSQL server binaries not found in ${BIN} (apt-get install postgresql)`;
  return null;
}

export interface PgCluster {
  port: number;
  /** URL of the `postgres` database. */
  url: string;
  /** A new empty database, its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): void;
  start(): void;
  /** Ends every connection to `db` from the server side (pg_terminate_backend). */
  terminateConnections(db: string): Promise<number>;
  destroy(): void;
}

/** `fsync`: durable like a real server (benchmarks); tests run without it. */
export async function startPg(o: { fsync?: boolean } = {}): Promise<PgCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'colony-pg-'));
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  const data = join(dir, 'data');
  const as = (cmd: string, args: string[]): void => {
    execFileSync('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args], { stdio: 'pipe' });
  };
  as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  const opts = `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=${o.fsync ? 'on' : 'off'} -c max_connections=50`;
  const start = (): void => as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-o', opts, 'start']);
  const stop = (): void => as('pg_ctl', ['-D', data, '-w', '-m', 'fast', 'stop']);
  start();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  let running = true;
  return {
    port,
    url,
    createDatabase: async (name) => {
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    stop: () => {
      stop();
      running = false;
    },
    start: () => {
      start();
      running = true;
    },
    terminateConnections: (db) =>
      admin(async (c) => {
        const r = await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db]);
        return r.rowCount ?? 0;
      }),
    destroy: () => {
      if (running) stop();
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** One query on its own connection (a test reading the shared database directly, past any host). */
export async function pgQuery<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}
