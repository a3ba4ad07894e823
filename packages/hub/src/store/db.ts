import { chmodSync } from 'node:fs';
import { errnoCode } from '@stems/shared';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

/**
 * Opens (or creates) the hub database: WAL so readers never block the writer,
 * synchronous=FULL so an approval that returned is on disk, foreign keys on,
 * and every pending migration applied.
 */
export function openDatabase(path: string, migrations = MIGRATIONS): Db {
  const db = new Database(path);
  try {
    ownerOnly(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, migrations);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * The database holds node keys, token hashes and bundles (sensitive files
 * included): owner only, like the key files. SQLite gives the -wal and -shm
 * files the mode of the database file when it creates them.
 */
function ownerOnly(path: string): void {
  if (path === ':memory:' || path === '') return;
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(file, 0o600);
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
  }
}

export function schemaVersion(db: Db): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare<[], { version: number }>('SELECT version FROM schema_version').get();
  return row?.version ?? 0;
}

function migrate(db: Db, migrations: readonly { version: number; sql: string }[]): void {
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    // Each migration and its version bump commit together or not at all.
    db.transaction(() => {
      const current = schemaVersion(db);
      if (migration.version <= current) return;
      db.exec(migration.sql);
      db.prepare('DELETE FROM schema_version').run();
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(migration.version);
    }).immediate();
  }
}
