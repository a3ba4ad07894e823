import type { ApplyReport, DriftItem, DriftReport, HealthSample } from '@stems/shared';
import type { Db } from './db.js';

export interface StoredReport {
  serial: number;
  status: ApplyReport['status'];
  receivedAt: string;
  report: ApplyReport;
}

/** One stored drift item with the serial it was checked against and when the hub got it. */
export type StoredDrift = DriftItem & { serial: number; receivedAt: string };

const APPLIED = "status IN ('converged', 'changed')";

export function eventStore(db: Db) {
  const putHealth = db.prepare(
    'INSERT INTO node_health (name, at, body) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET at = excluded.at, body = excluded.body',
  );
  const healthOf = db.prepare<[string], { body: string }>('SELECT body FROM node_health WHERE name = ?');
  return {
    addReport(node: string, report: ApplyReport, at: string): void {
      db.prepare('INSERT INTO reports (node, serial, status, received_at, body) VALUES (?, ?, ?, ?, ?)').run(
        node,
        report.serial,
        report.status,
        at,
        JSON.stringify(report),
      );
    },
    /**
     * The newest report of a node; `minSerial` skips reports of older bundles,
     * `applied` keeps only successful applies (converged or changed).
     */
    lastReport(node: string, filter: { minSerial?: number; applied?: boolean } = {}): StoredReport | undefined {
      const row = db
        .prepare<[string, number], { serial: number; status: ApplyReport['status']; received_at: string; body: string }>(
          `SELECT serial, status, received_at, body FROM reports WHERE node = ? AND serial >= ? ${filter.applied ? `AND ${APPLIED}` : ''}
           ORDER BY id DESC LIMIT 1`,
        )
        .get(node, filter.minSerial ?? 0);
      return row && { serial: row.serial, status: row.status, receivedAt: row.received_at, report: JSON.parse(row.body) as ApplyReport };
    },
    addDrift(node: string, drift: DriftReport, at: string): void {
      const stmt = db.prepare(
        'INSERT INTO drift_events (node, serial, resource_id, status, detected_at, received_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      db.transaction(() => {
        for (const item of drift.items) stmt.run(node, drift.serial, item.id, item.status, item.detectedAt, at, JSON.stringify(item));
      }).immediate();
    },
    /**
     * Resources whose latest drift event says they differ now, checked
     * against bundle `sinceSerial` or newer: applying a newer bundle voids
     * the drift of the older one.
     */
    openDrift(node: string, sinceSerial = 0): StoredDrift[] {
      return db
        .prepare<[string, number], { serial: number; received_at: string; body: string }>(
          `SELECT serial, received_at, body FROM drift_events d WHERE node = ? AND status = 'drifted' AND serial >= ?
             AND id = (SELECT MAX(id) FROM drift_events WHERE node = d.node AND resource_id = d.resource_id)
           ORDER BY resource_id`,
        )
        .all(node, sinceSerial)
        .map((r) => ({ ...(JSON.parse(r.body) as DriftItem), serial: r.serial, receivedAt: r.received_at }));
    },
    /** Drift events of a node, newest first. */
    driftEvents(node: string, limit = 100): StoredDrift[] {
      return db
        .prepare<[string, number], { serial: number; received_at: string; body: string }>(
          'SELECT serial, received_at, body FROM drift_events WHERE node = ? ORDER BY id DESC LIMIT ?',
        )
        .all(node, limit)
        .map((r) => ({ ...(JSON.parse(r.body) as DriftItem), serial: r.serial, receivedAt: r.received_at }));
    },
    /**
     * Stores the newest health sample of each node given, replacing the one before: only the newest
     * is read (hub status), so the hub keeps no history (migration 4; history belongs in a metrics system).
     */
    setHealth(samples: ReadonlyMap<string, HealthSample>): void {
      if (samples.size === 0) return;
      db.transaction(() => {
        for (const [node, sample] of samples) putHealth.run(node, sample.at, JSON.stringify(sample));
      }).immediate();
    },
    latestHealth(node: string): HealthSample | undefined {
      const row = healthOf.get(node);
      return row && (JSON.parse(row.body) as HealthSample);
    },
  };
}
export type EventStore = ReturnType<typeof eventStore>;
