import type { Db } from './db.js';

export interface BundleRecord {
  node: string;
  serial: number;
  commit: string;
  approvalId: number;
  envelope: string;
  issuedAt: string;
  expiresAt: string;
}

interface BundleRow {
  node: string;
  serial: number;
  commit_id: string;
  approval_id: number;
  envelope: string;
  issued_at: string;
  expires_at: string;
}

const toRecord = (r: BundleRow): BundleRecord => ({
  node: r.node,
  serial: r.serial,
  commit: r.commit_id,
  approvalId: r.approval_id,
  envelope: r.envelope,
  issuedAt: r.issued_at,
  expiresAt: r.expires_at,
});

export interface ApprovalRecord {
  id: number;
  kind: 'approve' | 'rollback' | 'resign';
  commit: string;
  nodes: string[];
  by: string;
  note: string;
  at: string;
}

export function bundleStore(db: Db) {
  const latestOf = db.prepare<[string], BundleRow>('SELECT * FROM bundles WHERE node = ? ORDER BY serial DESC LIMIT 1');
  const latestSerialOf = db.prepare<[string], { serial: number }>('SELECT MAX(serial) AS serial FROM bundles WHERE node = ?');
  return {
    /** The serial of the node's current bundle, 0 if it has none (reads no envelope). */
    latestSerial(node: string): number {
      return latestSerialOf.get(node)?.serial ?? 0;
    },
    /** The node's current bundle: the one with the highest serial. */
    latest(node: string): BundleRecord | undefined {
      const row = latestOf.get(node);
      return row && toRecord(row);
    },
    /** Current bundle of every node that has one. */
    latestAll(): BundleRecord[] {
      return db
        .prepare<[], BundleRow>(
          'SELECT b.* FROM bundles b WHERE b.serial = (SELECT MAX(serial) FROM bundles WHERE node = b.node) ORDER BY node',
        )
        .all()
        .map(toRecord);
    },
    history(node: string, limit = 100): BundleRecord[] {
      return db
        .prepare<[string, number], BundleRow>('SELECT * FROM bundles WHERE node = ? ORDER BY serial DESC LIMIT ?')
        .all(node, limit)
        .map(toRecord);
    },
    /** Call inside a transaction together with insert(). */
    addApproval(a: Omit<ApprovalRecord, 'id'>): number {
      const info = db
        .prepare('INSERT INTO approvals (kind, commit_id, nodes, by, note, at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(a.kind, a.commit, JSON.stringify(a.nodes), a.by, a.note, a.at);
      return Number(info.lastInsertRowid);
    },
    insert(b: BundleRecord): void {
      db.prepare(
        'INSERT INTO bundles (node, serial, commit_id, approval_id, envelope, issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ).run(b.node, b.serial, b.commit, b.approvalId, b.envelope, b.issuedAt, b.expiresAt);
    },
    approvals(limit = 100): ApprovalRecord[] {
      const rows = db
        .prepare<
          [number],
          { id: number; kind: ApprovalRecord['kind']; commit_id: string; nodes: string; by: string; note: string; at: string }
        >('SELECT * FROM approvals ORDER BY id DESC LIMIT ?')
        .all(limit);
      return rows.map((r) => ({
        id: r.id,
        kind: r.kind,
        commit: r.commit_id,
        nodes: JSON.parse(r.nodes) as string[],
        by: r.by,
        note: r.note,
        at: r.at,
      }));
    },
  };
}
export type BundleStore = ReturnType<typeof bundleStore>;
