import type { Db } from './db.js';

export type AuditAction =
  | 'approve'
  | 'rollback'
  | 'resign'
  | 'token.revoke'
  | 'node.accept'
  | 'node.reject'
  | 'node.revoke'
  | 'token.create'
  | 'join-token.create';

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: AuditAction;
  target: string;
  details: Record<string, unknown>;
}

export function auditStore(db: Db) {
  return {
    /** Appends one entry; call inside the transaction of the change it records. */
    append(e: Omit<AuditEntry, 'id'>): void {
      db.prepare('INSERT INTO audit_log (at, actor, action, target, details) VALUES (?, ?, ?, ?, ?)').run(
        e.at,
        e.actor,
        e.action,
        e.target,
        JSON.stringify(e.details),
      );
    },
    list(limit = 100): AuditEntry[] {
      const rows = db
        .prepare<[number], { id: number; at: string; actor: string; action: AuditAction; target: string; details: string }>(
          'SELECT * FROM audit_log ORDER BY id DESC LIMIT ?',
        )
        .all(limit);
      return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
    },
  };
}
export type AuditStore = ReturnType<typeof auditStore>;
