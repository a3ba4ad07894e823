import { hubPaths, openStore } from '@stems/hub';
import { BundleEnvelope, BundlePayload, readKeyFile, verifyBytes } from '@stems/shared';
import { expect } from 'vitest';
import { CRASH_NODES } from './_crash-hub.js';

/** What the store holds after a round: each node's current bundle and how many approvals are committed. */
export interface StoreState {
  latest: Map<string, { serial: number; commit: string }>;
  approvals: number;
}

export const EMPTY_STATE: StoreState = { latest: new Map(), approvals: 0 };

/**
 * Reads the hub database after a kill and a restart and checks everything
 * that must hold whatever instant the kill hit: the file is sound, the last
 * approval is wholly there or wholly absent (every node old, or every node
 * new with the next serial), serials run 1..n per node with no repeat or
 * gap, every current bundle is signed by the hub key over the serial and
 * revision its row claims, and the audit log names exactly the bundles that
 * exist. Returns the new state and whether the approval committed.
 */
export async function checkStore(dataDir: string, before: StoreState, target: string): Promise<{ state: StoreState; committed: boolean }> {
  const paths = hubPaths(dataDir);
  const { publicKey } = await readKeyFile(paths.key);
  const store = openStore(paths.db);
  try {
    const db = store.db;
    // openStore is how `hub serve` opens it: WAL, and a commit is on disk when it returns (FULL = 2)
    expect([db.pragma('journal_mode', { simple: true }), db.pragma('synchronous', { simple: true })]).toEqual(['wal', 2]);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.pragma('foreign_key_check')).toEqual([]);
    const approvals = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM approvals').get()?.n ?? 0;
    expect([before.approvals, before.approvals + 1]).toContain(approvals);
    const committed = approvals === before.approvals + 1;

    const latest = new Map(store.bundles.latestAll().map((b) => [b.node, b]));
    expect(latest.size).toBe(CRASH_NODES);
    for (const [node, b] of latest) {
      const old = before.latest.get(node);
      if (committed) expect({ serial: b.serial, commit: b.commit }).toEqual({ serial: (old?.serial ?? 0) + 1, commit: target });
      else expect({ serial: b.serial, commit: b.commit }).toEqual(old);
      const envelope = BundleEnvelope.parse(JSON.parse(b.envelope));
      const signature = envelope.signatures[0]?.sig ?? '';
      expect(verifyBytes(Buffer.from(envelope.payload, 'utf8'), signature, publicKey), `${node} serial ${b.serial} signature`).toBe(true);
      const payload = BundlePayload.parse(JSON.parse(envelope.payload));
      expect({ node: payload.node, serial: payload.serial, commit: payload.revision.commit }).toEqual({
        node,
        serial: b.serial,
        commit: b.commit,
      });
    }

    // serials never repeat (UNIQUE), never go back and never skip: per node they are exactly 1..n
    const runs = db.prepare<[], { node: string; n: number; lo: number; hi: number }>(
      'SELECT node, COUNT(*) AS n, MIN(serial) AS lo, MAX(serial) AS hi FROM bundles GROUP BY node',
    );
    for (const r of runs.all()) expect({ node: r.node, lo: r.lo, hi: r.hi }).toEqual({ node: r.node, lo: 1, hi: r.n });

    // one audit entry per committed approval, naming exactly the bundles that approval stored
    const audits = db
      .prepare<[], { details: string }>("SELECT details FROM audit_log WHERE action IN ('approve', 'rollback') ORDER BY id")
      .all();
    expect(audits.length).toBe(approvals);
    const byApproval = db.prepare<[number], { node: string; serial: number }>(
      'SELECT node, serial FROM bundles WHERE approval_id = ? ORDER BY node',
    );
    const ids = db.prepare<[], { id: number }>('SELECT id FROM approvals ORDER BY id').all();
    for (const [i, row] of audits.entries()) {
      const details = JSON.parse(row.details) as { approvalId: number; bundles: { node: string; serial: number }[] };
      expect(details.approvalId).toBe(ids[i]?.id);
      expect(details.bundles).toEqual(byApproval.all(details.approvalId));
    }
    return { state: { latest: new Map([...latest].map(([n, b]) => [n, { serial: b.serial, commit: b.commit }])), approvals }, committed };
  } finally {
    store.close();
  }
}
