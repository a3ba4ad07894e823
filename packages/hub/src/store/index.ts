import { auditStore } from './audit.js';
import { bundleStore } from './bundles.js';
import { type Db, openDatabase } from './db.js';
import { eventStore } from './events.js';
import { nodeStore } from './nodes.js';
import { revisionStore } from './revisions.js';
import { tokenStore } from './tokens.js';

/** The hub's one database, split by concern. */
export interface Store {
  db: Db;
  nodes: ReturnType<typeof nodeStore>;
  revisions: ReturnType<typeof revisionStore>;
  bundles: ReturnType<typeof bundleStore>;
  tokens: ReturnType<typeof tokenStore>;
  audit: ReturnType<typeof auditStore>;
  events: ReturnType<typeof eventStore>;
  /** Runs fn in one IMMEDIATE transaction: all of its writes commit, or none do. */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export function openStore(path: string): Store {
  const db = openDatabase(path);
  return {
    db,
    nodes: nodeStore(db),
    revisions: revisionStore(db),
    bundles: bundleStore(db),
    tokens: tokenStore(db),
    audit: auditStore(db),
    events: eventStore(db),
    transaction: <T>(fn: () => T): T => db.transaction(fn).immediate(),
    close: () => db.close(),
  };
}
