import { statfs } from 'node:fs/promises';
import { freemem, loadavg, totalmem, uptime } from 'node:os';
import { type ApplyReport, type BundlePayload, errnoCode, HealthSample } from '@stems/shared';
import type { Systemd } from '../system/systemd.js';

export interface HealthOptions {
  /** Mount points to measure (from the facts' filesystems). */
  mounts: readonly string[];
  agentVersion: string;
  lastReport: ApplyReport | undefined;
  /** The last good bundle has expired with no newer one from the hub. */
  stale: boolean;
  now: Date;
  /** State of the managed units, from unitStates(). */
  units: HealthSample['units'];
  /** The agent's health period, so the hub knows when a node is overdue. */
  intervalMs: number;
}

/** Units a health sample reports at most (the wire cap). */
const MAX_UNITS = 1024;

/**
 * active / inactive (systemctl is-active) of each unit the bundle manages;
 * [] when no systemd can be driven (a container, a root prefix).
 */
export async function unitStates(systemd: Systemd, payload: BundlePayload | undefined): Promise<HealthSample['units']> {
  const names = (payload?.resources ?? []).flatMap((r) => (r.type === 'unit' ? [r.name] : [])).slice(0, MAX_UNITS);
  if (names.length === 0 || !(await systemd.available())) return [];
  return Promise.all(names.map(async (name) => ({ name, active: (await systemd.isActive(name)) ? 'active' : 'inactive' })));
}

const pct = (used: number, total: number) => (total > 0 ? Math.min(100, Math.max(0, (used / total) * 100)) : 0);
const round = (n: number) => Math.round(n * 100) / 100;

/** One health sample from cheap syscalls (no systeminformation: this runs every few seconds). */
export async function sampleHealth(opts: HealthOptions): Promise<HealthSample> {
  const [load1 = 0, load5 = 0, load15 = 0] = loadavg();
  const disks: HealthSample['disks'] = [];
  for (const mount of opts.mounts.slice(0, 256)) {
    try {
      const s = await statfs(mount);
      disks.push({ mount, usedPct: round(pct(s.blocks - s.bfree, s.blocks)) });
    } catch (err) {
      // a mount that went away since facts were gathered is not a health problem of ours
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'EACCES') throw err;
    }
  }
  const last = opts.lastReport;
  return HealthSample.parse({
    at: opts.now.toISOString(),
    uptimeSec: Math.floor(uptime()),
    load1: round(load1),
    load5: round(load5),
    load15: round(load15),
    memUsedPct: round(pct(totalmem() - freemem(), totalmem())),
    disks,
    units: opts.units,
    agentVersion: opts.agentVersion,
    lastApply: last ? { serial: last.serial, status: last.status, at: last.startedAt } : null,
    stale: opts.stale,
    intervalMs: opts.intervalMs,
  });
}
