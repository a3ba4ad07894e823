import type { HubCore } from './core.js';

/** `hub revisions --json` (DESIGN §8): newest first. */
export interface RevisionView {
  commit: string;
  subject: string;
  author: string;
  committedAt: string;
  state: 'valid' | 'invalid';
  errors: { code: string; file: string; line: number; col: number; message: string }[];
}

export function listRevisions(hub: HubCore, limit = 1000): RevisionView[] {
  return hub.store.revisions.list(limit).map((r) => ({
    commit: r.commit,
    subject: r.subject,
    author: r.author,
    committedAt: r.committedAt,
    state: r.state,
    errors: r.problems.map((p) => ({ code: p.code, file: p.file, line: p.line, col: p.col, message: p.message })),
  }));
}

/** `hub nodes --json` (DESIGN §8). */
export interface NodeView {
  name: string;
  state: 'accepted' | 'pending' | 'rejected' | 'revoked';
  fingerprint: string;
  lastSeen: string | null;
}

export function listNodes(hub: HubCore): NodeView[] {
  return hub.store.nodes.list().map((n) => ({ name: n.name, state: n.state, fingerprint: n.fingerprint, lastSeen: n.lastSeen }));
}
