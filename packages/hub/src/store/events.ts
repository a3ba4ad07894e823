import type { ApplyReport, DriftItem, DriftReport, HealthSample } from '@stems/shared';
import type { Db } from './db.js';

/** Health samples kept per node (a ring: older ones are dropped). @default 100 */
export const HEALTH_SAMPLES_PER_NODE = 100;

/**
 * A node's ring is trimmed at every this many of its samples, not at each:
 * it holds up to HEALTH_SAMPLES_PER_NODE + 19 rows, and reads take the newest
 * HEALTH_SAMPLES_PER_NODE. Deleting one row per sample was half the cost of
 * storing health once rings were full (bench/RESULTS.md, "Hub capacity").
 * @default 20
 */
export const HEALTH_TRIM_EVERY = 20;

export interface StoredReport {
  serial: number;
  status: ApplyReport['status'];
  receivedAt: string;
  report: ApplyReport;
}

/** One stored drift item with the serial it was checked against and when the hub got it. */
export type StoredDrift = DriftItem & { serial: number; receivedAt: string };

const APPLIED = "status IN ('converged', 'changed')";

export function eventStore(db: Db, healthPerNode = HEALTH_SAMPLES_PER_NODE) {
  const insertHealth = db.prepare('INSERT INTO health_samples (node, at, body) VALUES (?, ?, ?)');
  // Everything at or below the (healthPerNode+1)-th newest id of the node; nothing while the ring is not full.
  const trimHealth = db.prepare(
    'DELETE FROM health_samples WHERE node = ? AND id <= (SELECT id FROM health_samples WHERE node = ? ORDER BY id DESC LIMIT 1 OFFSET ?)',
  );
  /** Samples stored per node since its ring was last trimmed (since this hub started). */
  const sinceTrim = new Map<string, number>();
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
    /** Stores health samples (of one or many nodes); a node's ring is trimmed to the newest healthPerNode at every HEALTH_TRIM_EVERY of its samples. */
    addHealth(samples: readonly { node: string; sample: HealthSample }[]): void {
      if (samples.length === 0) return;
      db.transaction(() => {
        for (const { node, sample } of samples) {
          insertHealth.run(node, sample.at, JSON.stringify(sample));
          const stored = (sinceTrim.get(node) ?? 0) + 1;
          if (stored < HEALTH_TRIM_EVERY) sinceTrim.set(node, stored);
          else {
            trimHealth.run(node, node, healthPerNode);
            sinceTrim.set(node, 0);
          }
        }
      }).immediate();
    },
    health(node: string, limit = healthPerNode): HealthSample[] {
      return db
        .prepare<[string, number], { body: string }>('SELECT body FROM health_samples WHERE node = ? ORDER BY id DESC LIMIT ?')
        .all(node, limit)
        .map((r) => JSON.parse(r.body) as HealthSample);
    },
  };
}
export type EventStore = ReturnType<typeof eventStore>;
