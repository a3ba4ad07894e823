import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db.js';

export type Role = 'viewer' | 'operator' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

/** Only hashes are stored: a leaked database does not leak usable tokens. */
export const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');
export const newSecret = (prefix: string) => `${prefix}_${randomBytes(32).toString('base64url')}`;

export interface TokenRecord {
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
}

export function tokenStore(db: Db) {
  return {
    /** Creates an operator token and returns its secret, which is never stored. */
    create(t: { name: string; role: Role; at: string; by: string }): string {
      const secret = newSecret('stems');
      db.prepare('INSERT INTO tokens (name, hash, role, created_at, created_by) VALUES (?, ?, ?, ?, ?)').run(
        t.name,
        hashToken(secret),
        t.role,
        t.at,
        t.by,
      );
      return secret;
    },
    /** Creates or replaces the token of that name (the hub's local admin token, renewed at each start). */
    replace(t: { name: string; role: Role; at: string; by: string }): string {
      const secret = newSecret('stems');
      db.prepare(
        `INSERT INTO tokens (name, hash, role, created_at, created_by) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, role = excluded.role, created_at = excluded.created_at`,
      ).run(t.name, hashToken(secret), t.role, t.at, t.by);
      return secret;
    },
    exists(name: string): boolean {
      return db.prepare('SELECT 1 FROM tokens WHERE name = ?').get(name) !== undefined;
    },
    lookup(secret: string): TokenRecord | undefined {
      const row = db
        .prepare<[string], { name: string; role: Role; created_at: string; created_by: string }>(
          'SELECT name, role, created_at, created_by FROM tokens WHERE hash = ?',
        )
        .get(hashToken(secret));
      return row && { name: row.name, role: row.role, createdAt: row.created_at, createdBy: row.created_by };
    },
    /** Every API token's name, role and origin (never a secret: only hashes are kept). */
    list(): TokenRecord[] {
      return db
        .prepare<[], { name: string; role: Role; created_at: string; created_by: string }>(
          'SELECT name, role, created_at, created_by FROM tokens ORDER BY created_at, name',
        )
        .all()
        .map((row) => ({ name: row.name, role: row.role, createdAt: row.created_at, createdBy: row.created_by }));
    },
    /** Deletes a token: it stops working at once. False when there is none of that name. */
    revoke(name: string): boolean {
      return db.prepare('DELETE FROM tokens WHERE name = ?').run(name).changes === 1;
    },
    count(): number {
      return db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM tokens').get()?.n ?? 0;
    },
    createJoin(t: { at: string; expiresAt: string; by: string }): string {
      const secret = newSecret('stemsjoin');
      db.prepare('INSERT INTO join_tokens (hash, created_at, expires_at, created_by) VALUES (?, ?, ?, ?)').run(
        hashToken(secret),
        t.at,
        t.expiresAt,
        t.by,
      );
      return secret;
    },
    /** Marks a join token used by `node`; false when it is unknown, used or expired. One UPDATE, so two racers cannot both win. */
    consumeJoin(secret: string, node: string, at: string): boolean {
      const info = db
        .prepare('UPDATE join_tokens SET used_at = ?, used_by = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ?')
        .run(at, node, hashToken(secret), at);
      return info.changes === 1;
    },
  };
}
export type TokenStore = ReturnType<typeof tokenStore>;
