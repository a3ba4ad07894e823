import { Facts } from '@stems/shared';
import type { Db } from './db.js';

export type NodeState = 'accepted' | 'pending' | 'rejected' | 'revoked';

export interface NodeRecord {
  name: string;
  publicKey: string;
  fingerprint: string;
  state: NodeState;
  factsHash: string | null;
  createdAt: string;
  lastSeen: string | null;
}

interface NodeRow {
  name: string;
  public_key: string;
  fingerprint: string;
  state: NodeState;
  facts_hash: string | null;
  created_at: string;
  last_seen: string | null;
}

const toRecord = (r: NodeRow): NodeRecord => ({
  name: r.name,
  publicKey: r.public_key,
  fingerprint: r.fingerprint,
  state: r.state,
  factsHash: r.facts_hash,
  createdAt: r.created_at,
  lastSeen: r.last_seen,
});

/** How stale a node's cached access may be after another process changed it. @default 1000 */
export const ACCESS_RECHECK_MS = 1_000;

export type NodeAccess = Pick<NodeRecord, 'publicKey' | 'fingerprint' | 'state'>;

export function nodeStore(db: Db) {
  // Without the facts column, which only facts() and factsByNode() read.
  const RECORDS =
    'SELECT name, public_key, fingerprint, state, facts_hash, created_at, last_seen FROM nodes LEFT JOIN node_seen USING (name)';
  const byName = db.prepare<[string], NodeRow>(`${RECORDS} WHERE name = ?`);
  // Only columns stored before facts: SQLite reads no overflow page of a large facts value to reach them.
  const accessOf = db.prepare<[string], { public_key: string; fingerprint: string; state: NodeState }>(
    'SELECT public_key, fingerprint, state FROM nodes WHERE name = ?',
  );
  const all = db.prepare<[], NodeRow>(`${RECORDS} ORDER BY name`);
  // last_seen has its own narrow table (migration 3): the write-behind updates hundreds of nodes a second.
  const touchStmt = db.prepare('UPDATE node_seen SET last_seen = ? WHERE name = ?');
  const seenAt = db.prepare(
    'INSERT INTO node_seen (name, last_seen) VALUES (@name, @at) ON CONFLICT (name) DO UPDATE SET last_seen = excluded.last_seen',
  );
  // Every agent frame asks whether its node is still accepted with its key: 333 times a second
  // with 5000 nodes. Accepted rows are remembered, forgotten on any write of key or state made
  // through this store, and all at once when another connection (a `hub` command on the same
  // data dir) has committed: SQLite's data_version tells, asked at most every ACCESS_RECHECK_MS.
  const accepted = new Map<string, NodeAccess>();
  let seenVersion = -1;
  let checkedAt = 0;
  const forgetIfOthersWrote = () => {
    const now = Date.now();
    if (now - checkedAt < ACCESS_RECHECK_MS) return;
    checkedAt = now;
    const version = db.pragma('data_version', { simple: true }) as number;
    if (version !== seenVersion) accepted.clear();
    seenVersion = version;
  };
  return {
    get(name: string): NodeRecord | undefined {
      const row = byName.get(name);
      return row && toRecord(row);
    },
    /**
     * What the agent endpoint checks on every frame: is this key still the accepted one. A change
     * made by another process shows within ACCESS_RECHECK_MS; one made through this store at once.
     */
    access(name: string): NodeAccess | undefined {
      forgetIfOthersWrote();
      const known = accepted.get(name);
      if (known) return known;
      const row = accessOf.get(name);
      if (!row) return undefined;
      const access = { publicKey: row.public_key, fingerprint: row.fingerprint, state: row.state };
      if (access.state === 'accepted') accepted.set(name, access);
      return access;
    },
    list(): NodeRecord[] {
      return all.all().map(toRecord);
    },
    /** Creates the node or replaces its key and state (a re-enrollment after reject/revoke). */
    upsert(node: { name: string; publicKey: string; fingerprint: string; state: NodeState; at: string }): void {
      accepted.delete(node.name);
      db.transaction(() => {
        db.prepare(
          `INSERT INTO nodes (name, public_key, fingerprint, state, created_at) VALUES (@name, @publicKey, @fingerprint, @state, @at)
           ON CONFLICT (name) DO UPDATE SET public_key = excluded.public_key, fingerprint = excluded.fingerprint,
             state = excluded.state, facts = NULL, facts_hash = NULL`,
        ).run(node);
        seenAt.run(node);
      })();
    },
    setState(name: string, state: NodeState): void {
      accepted.delete(name);
      db.prepare('UPDATE nodes SET state = ? WHERE name = ?').run(state, name);
    },
    touch(name: string, at: string): void {
      touchStmt.run(at, name);
    },
    setFacts(name: string, facts: Facts, hash: string): void {
      db.prepare('UPDATE nodes SET facts = ?, facts_hash = ? WHERE name = ?').run(JSON.stringify(facts), hash, name);
    },
    /** Last known facts of every node that sent any; the compiler previews renders with them. */
    factsByNode(): Map<string, Facts | null> {
      const rows = db.prepare<[], { name: string; facts: string | null }>("SELECT name, facts FROM nodes WHERE state = 'accepted'").all();
      const out = new Map<string, Facts | null>();
      for (const row of rows) {
        const parsed = row.facts === null ? undefined : Facts.safeParse(JSON.parse(row.facts));
        out.set(row.name, parsed?.success ? parsed.data : null);
      }
      return out;
    },
    facts(name: string): Facts | null {
      const row = db.prepare<[string], { facts: string | null }>('SELECT facts FROM nodes WHERE name = ?').get(name);
      if (!row?.facts) return null;
      const parsed = Facts.safeParse(JSON.parse(row.facts));
      return parsed.success ? parsed.data : null;
    },
  };
}
export type NodeStore = ReturnType<typeof nodeStore>;
