/**
 * Numbered schema migrations. Each runs once, in its own transaction, and
 * bumps schema_version. Append new entries; never edit a shipped one.
 */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE nodes (
        name TEXT PRIMARY KEY,
        public_key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('accepted', 'pending', 'rejected', 'revoked')),
        facts TEXT,
        facts_hash TEXT,
        created_at TEXT NOT NULL,
        last_seen TEXT
      );
      CREATE TABLE revisions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        commit_id TEXT NOT NULL UNIQUE,
        subject TEXT NOT NULL,
        author TEXT NOT NULL,
        committed_at TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('valid', 'invalid')),
        problems TEXT NOT NULL,
        cluster TEXT,
        fetched_at TEXT NOT NULL
      );
      CREATE TABLE approvals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('approve', 'rollback', 'resign')),
        commit_id TEXT NOT NULL,
        nodes TEXT NOT NULL,
        by TEXT NOT NULL,
        note TEXT NOT NULL,
        at TEXT NOT NULL
      );
      CREATE TABLE bundles (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        node TEXT NOT NULL,
        serial INTEGER NOT NULL CHECK (serial > 0),
        commit_id TEXT NOT NULL,
        approval_id INTEGER NOT NULL REFERENCES approvals(id),
        envelope TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        UNIQUE (node, serial)
      );
      CREATE TABLE reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        node TEXT NOT NULL,
        serial INTEGER NOT NULL,
        status TEXT NOT NULL,
        received_at TEXT NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX reports_node ON reports (node, id);
      CREATE TABLE drift_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        node TEXT NOT NULL,
        serial INTEGER NOT NULL,
        resource_id TEXT NOT NULL,
        status TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX drift_node ON drift_events (node, id);
      CREATE TABLE health_samples (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        node TEXT NOT NULL,
        at TEXT NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX health_node ON health_samples (node, id);
      CREATE TABLE tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
      );
      CREATE TABLE join_tokens (
        hash TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        used_at TEXT,
        used_by TEXT
      );
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        details TEXT NOT NULL
      );
      -- The audit log is append-only: the database itself refuses edits.
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    `,
  },
  {
    version: 2,
    sql: `
      -- Failed authentications per client address (auth/failure-limiter.ts), kept across restarts.
      CREATE TABLE auth_failures (
        client TEXT PRIMARY KEY,
        window_start INTEGER NOT NULL,
        count INTEGER NOT NULL
      );
    `,
  },
  {
    version: 3,
    sql: `
      -- last_seen is written for hundreds of nodes a second at scale (ws/liveness.ts). In the wide
      -- nodes row (key, facts) each write rewrote a page or more per node; here a page holds ~100 nodes.
      CREATE TABLE node_seen (
        name TEXT PRIMARY KEY REFERENCES nodes(name) ON DELETE CASCADE,
        last_seen TEXT NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO node_seen (name, last_seen) SELECT name, last_seen FROM nodes WHERE last_seen IS NOT NULL;
      ALTER TABLE nodes DROP COLUMN last_seen;
    `,
  },
  {
    version: 4,
    sql: `
      -- Only a node's newest health sample is ever read (hub status). A ring of 100 per node made
      -- health ~99 % of a 5000-node hub's database (~230 MB) and most of the write-behind's cost.
      CREATE TABLE node_health (
        name TEXT PRIMARY KEY REFERENCES nodes(name) ON DELETE CASCADE,
        at TEXT NOT NULL,
        body TEXT NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO node_health (name, at, body)
        SELECT node, at, body FROM health_samples
        WHERE id IN (SELECT max(id) FROM health_samples GROUP BY node) AND node IN (SELECT name FROM nodes);
      DROP TABLE health_samples;
    `,
  },
];
