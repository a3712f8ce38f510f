// The hub's storage: one schema and one list of migrations, run against embedded PostgreSQL (PGlite,
// in the data folder, the default) or a PostgreSQL server (`pg`). Everything above this file speaks
// plain SQL with $1 parameters through `Sql`, and writes only inside `tx`.
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export interface HubDb extends Sql {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  tx<T>(fn: (q: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** The migrations, in order; a migration is never edited once released, only appended to. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE tokens (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'curator', 'contributor', 'reader')),
    hash TEXT NOT NULL UNIQUE,
    datanets TEXT[],
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE datanets (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
  );
  CREATE TABLE manifest_versions (
    datanet_id BIGINT NOT NULL REFERENCES datanets(id),
    version INT NOT NULL,
    manifest TEXT NOT NULL,
    record_schema TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (datanet_id, version)
  );
  CREATE TABLE contributions (
    id TEXT PRIMARY KEY,
    datanet_id BIGINT NOT NULL REFERENCES datanets(id),
    contributor TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    file_name TEXT NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('accepted', 'rejected', 'pending')),
    records_accepted INT NOT NULL,
    records_rejected INT NOT NULL,
    findings JSONB NOT NULL,
    rules_version TEXT NOT NULL,
    manifest_version INT NOT NULL,
    supersedes TEXT REFERENCES contributions(id),
    superseded_by TEXT REFERENCES contributions(id),
    review_reason TEXT,
    reviewed_by TEXT,
    day DATE NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
  );
  CREATE INDEX contributions_datanet ON contributions (datanet_id, verdict);
  CREATE TABLE quota_days (
    contributor TEXT NOT NULL,
    day DATE NOT NULL,
    datanet_id BIGINT NOT NULL,
    bytes BIGINT NOT NULL DEFAULT 0,
    files INT NOT NULL DEFAULT 0,
    PRIMARY KEY (contributor, day, datanet_id)
  );
  CREATE TABLE record_exact (
    contribution_id TEXT NOT NULL REFERENCES contributions(id),
    line INT NOT NULL,
    datanet_id BIGINT NOT NULL,
    hash BIGINT NOT NULL,
    PRIMARY KEY (contribution_id, line)
  );
  CREATE INDEX record_exact_hash ON record_exact (datanet_id, hash);
  CREATE TABLE record_signature (
    contribution_id TEXT NOT NULL REFERENCES contributions(id),
    line INT NOT NULL,
    signature BYTEA NOT NULL,
    PRIMARY KEY (contribution_id, line)
  );
  CREATE TABLE record_band (
    datanet_id BIGINT NOT NULL,
    band_key INT NOT NULL,
    contribution_id TEXT NOT NULL REFERENCES contributions(id),
    line INT NOT NULL
  );
  CREATE INDEX record_band_key ON record_band (datanet_id, band_key);
  CREATE TABLE versions (
    datanet_id BIGINT NOT NULL REFERENCES datanets(id),
    version INT NOT NULL,
    sha256 TEXT NOT NULL,
    records INT NOT NULL,
    contributors JSONB NOT NULL,
    contributions JSONB NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (datanet_id, version)
  );
  `,
  // The hub's own facts. near_scheme: the duplicate scheme of the stored record_exact, record_signature
  // and record_band rows (the rows before this migration were written by the scheme named here); the
  // hub rebuilds them when it differs from DEDUP_SCHEME (hub/reindex.ts).
  `
  CREATE TABLE hub_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  INSERT INTO hub_meta (key, value) VALUES ('near_scheme', 'omh128-b20r6-densified');
  `,
];

/** Applies the migrations not yet applied, under an advisory lock so that several hubs may start at once. */
async function migrate(db: HubDb): Promise<void> {
  await db.tx(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock(7263001)');
    await q.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    const rows = await q.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => Number(r.version)));
    for (let i = 0; i < MIGRATIONS.length; i++) {
      if (done.has(i + 1)) continue;
      for (const statement of splitStatements(MIGRATIONS[i] as string)) await q.query(statement);
      await q.query('INSERT INTO schema_migrations (version) VALUES ($1)', [i + 1]);
    }
  });
}

/** The migrations hold no semicolons inside literals, so statements split on them. */
function splitStatements(sql: string): string[] {
  return sql
    .split(';')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** A FIFO lock: PGlite is one connection, so its transactions (and queries between them) take turns. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const before = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => (release = r));
    await before;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

class PgliteDb implements HubDb {
  readonly kind = 'pglite' as const;
  private readonly lock = new Mutex();
  constructor(private readonly db: PGlite) {}

  query<T>(text: string, params?: unknown[]): Promise<T[]> {
    return this.lock.run(async () => (await this.db.query<T>(text, params)).rows);
  }

  tx<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    return this.lock.run(() =>
      this.db.transaction(async (t) => {
        const q: Sql = { query: async <R>(text: string, params?: unknown[]) => (await t.query<R>(text, params)).rows };
        return fn(q);
      }),
    );
  }

  async close(): Promise<void> {
    await this.lock.run(() => this.db.close());
  }
}

class PostgresDb implements HubDb {
  readonly kind = 'postgres' as const;
  constructor(private readonly pool: pg.Pool) {}

  async query<T>(text: string, params?: unknown[]): Promise<T[]> {
    return (await this.pool.query(text, params)).rows as T[];
  }

  async tx<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const q: Sql = {
        query: async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[],
      };
      const result = await fn(q);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

// BIGINT comes back as a string from pg; the hub's bigints (ids, byte counts, 53-bit hashes) fit a double.
pg.types.setTypeParser(20, (v) => Number(v));

/** Opens (and migrates) the database: `database` a postgres:// URL, else PGlite in `dataDir`/db. */
export async function openDb(opts: { dataDir: string; database?: string }): Promise<HubDb> {
  let db: HubDb;
  if (opts.database) {
    if (!/^postgres(ql)?:\/\//.test(opts.database))
      throw new Error(`--database takes a postgres:// URL, not '${opts.database}'`);
    const pool = new pg.Pool({ connectionString: opts.database, max: 10 });
    // An idle connection the server ends (a restart, an administrator) is an 'error' event on the pool:
    // unhandled, it would end the hub; the pool replaces the connection on the next query.
    pool.on('error', (err) => process.stderr.write(`hub: an idle PostgreSQL connection ended: ${err.message}\n`));
    db = new PostgresDb(pool);
  } else {
    const pglite = new PGlite(`${opts.dataDir}/db`, {
      parsers: { 20: (v: string) => Number(v) },
    });
    await pglite.waitReady;
    db = new PgliteDb(pglite);
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}
