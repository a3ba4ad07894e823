import { type RepoProblem, StemsError } from '@stems/shared';
import type { Db } from './db.js';

export interface RevisionRecord {
  commit: string;
  subject: string;
  author: string;
  committedAt: string;
  state: 'valid' | 'invalid';
  problems: RepoProblem[];
  cluster: string | null;
  fetchedAt: string;
}

interface RevisionRow {
  commit_id: string;
  subject: string;
  author: string;
  committed_at: string;
  state: 'valid' | 'invalid';
  problems: string;
  cluster: string | null;
  fetched_at: string;
}

const toRecord = (r: RevisionRow): RevisionRecord => ({
  commit: r.commit_id,
  subject: r.subject,
  author: r.author,
  committedAt: r.committed_at,
  state: r.state,
  problems: JSON.parse(r.problems) as RepoProblem[],
  cluster: r.cluster,
  fetchedAt: r.fetched_at,
});

export function revisionStore(db: Db) {
  const byCommit = db.prepare<[string], RevisionRow>('SELECT * FROM revisions WHERE commit_id = ?');
  return {
    get(commit: string): RevisionRecord | undefined {
      const row = byCommit.get(commit);
      return row && toRecord(row);
    },
    /** Newest first (in the order the hub fetched them, which follows the branch). */
    list(limit = 1000): RevisionRecord[] {
      return db.prepare<[number], RevisionRow>('SELECT * FROM revisions ORDER BY seq DESC LIMIT ?').all(limit).map(toRecord);
    },
    /** Inserts revisions oldest first; a commit already known is left as it is. */
    insert(revisions: RevisionRecord[]): void {
      const stmt = db.prepare(
        `INSERT INTO revisions (commit_id, subject, author, committed_at, state, problems, cluster, fetched_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (commit_id) DO NOTHING`,
      );
      db.transaction(() => {
        for (const r of revisions) {
          stmt.run(r.commit, r.subject, r.author, r.committedAt, r.state, JSON.stringify(r.problems), r.cluster, r.fetchedAt);
        }
      }).immediate();
    },
    latest(): RevisionRecord | undefined {
      const row = db.prepare<[], RevisionRow>('SELECT * FROM revisions ORDER BY seq DESC LIMIT 1').get();
      return row && toRecord(row);
    },
    /** Cluster name of the newest valid revision, if any. */
    latestCluster(): string | null {
      const row = db
        .prepare<[], { cluster: string | null }>("SELECT cluster FROM revisions WHERE state = 'valid' ORDER BY seq DESC LIMIT 1")
        .get();
      return row?.cluster ?? null;
    },
    /** Resolves a full sha, a unique prefix (4+ hex digits) or `latest` (the newest valid revision). */
    resolve(ref: string): RevisionRecord {
      if (ref === 'latest') {
        const row = db.prepare<[], RevisionRow>("SELECT * FROM revisions WHERE state = 'valid' ORDER BY seq DESC LIMIT 1").get();
        if (!row) {
          throw new StemsError('STEMS_REVISION_NOT_FOUND', 'There is no valid revision yet', {
            hint: 'Push a commit that validates, then run `hub revisions` (or POST /api/v1/sync) to fetch it.',
            statusCode: 404,
          });
        }
        return toRecord(row);
      }
      const prefix = ref.toLowerCase();
      if (!/^[0-9a-f]{4,40}$/.test(prefix)) {
        throw new StemsError('STEMS_REVISION_NOT_FOUND', `"${ref}" is not a commit id, a prefix of one (4+ hex digits) or "latest"`, {
          hint: 'Run `hub revisions` to list known revisions.',
          statusCode: 404,
        });
      }
      const rows = db.prepare<[string], RevisionRow>('SELECT * FROM revisions WHERE commit_id LIKE ? LIMIT 2').all(`${prefix}%`);
      const [first, second] = rows;
      if (!first) {
        throw new StemsError('STEMS_REVISION_NOT_FOUND', `No revision matches "${ref}"`, {
          hint: 'Run `hub revisions` to list known revisions; a new commit appears after the next sync.',
          statusCode: 404,
        });
      }
      if (second) {
        throw new StemsError('STEMS_REVISION_AMBIGUOUS', `"${ref}" matches more than one revision`, {
          hint: 'Give more digits of the commit id.',
          statusCode: 409,
        });
      }
      return toRecord(first);
    },
  };
}
export type RevisionStore = ReturnType<typeof revisionStore>;
