import { storedPayload } from './approval/payload.js';
import type { HubCore } from './core.js';

/** A node not heard from (frame or pong) for this long counts as offline. @default 2 minutes */
export const OFFLINE_AFTER_MS = 2 * 60 * 1000;

export type NodeStatusState = 'pending' | 'applying' | 'converged' | 'failed' | 'drifted' | 'offline';

/** `hub status --json` (DESIGN §8). */
export interface HubStatus {
  cluster: string | null;
  branch: string;
  latestRevision: { commit: string; subject: string } | null;
  pendingRevisions: number;
  nodes: {
    name: string;
    state: NodeStatusState;
    /** Serial the node last applied (0 when none). */
    serial: number;
    /** Commit of that serial's bundle. */
    revision: string | null;
    /** Resources drifted right now. */
    drift: number;
    health: { load1: number; memUsedPct: number; diskMaxPct: number } | null;
    lastSeen: string | null;
  }[];
}

/** Valid revisions fetched after the newest approved one: what waits for a human. */
function pendingRevisions(hub: HubCore): number {
  const approved = new Set(hub.store.bundles.approvals(1000).map((a) => a.commit));
  let count = 0;
  for (const r of hub.store.revisions.list()) {
    if (approved.has(r.commit)) break;
    if (r.state === 'valid') count++;
  }
  return count;
}

export function buildStatus(hub: HubCore): HubStatus {
  const { store } = hub;
  const now = hub.now().getTime();
  const latest = store.revisions.latest();
  const nodes = store.nodes.list().filter((n) => n.state === 'accepted' || n.state === 'pending');
  return {
    cluster: store.revisions.latestCluster(),
    branch: hub.config.repo.branch,
    latestRevision: latest ? { commit: latest.commit, subject: latest.subject } : null,
    pendingRevisions: pendingRevisions(hub),
    nodes: nodes.map((n) => {
      const bundle = store.bundles.latest(n.name);
      const report = store.events.lastReport(n.name);
      const applied = report && (report.status === 'converged' || report.status === 'changed') ? report.serial : 0;
      const appliedBundle = applied ? store.bundles.history(n.name).find((b) => b.serial === applied) : undefined;
      const drift = store.events.openDrift(n.name).length;
      const sample = store.events.health(n.name, 1)[0];
      let state: NodeStatusState;
      if (n.state === 'pending' || !bundle) state = 'pending';
      else if (!n.lastSeen || now - Date.parse(n.lastSeen) > OFFLINE_AFTER_MS) state = 'offline';
      else if (report && report.serial >= bundle.serial && report.status !== 'converged' && report.status !== 'changed') state = 'failed';
      else if (!report || report.serial < bundle.serial) state = 'applying';
      else if (drift > 0) state = 'drifted';
      else state = 'converged';
      return {
        name: n.name,
        state,
        serial: applied,
        revision: appliedBundle ? storedPayload(appliedBundle.envelope).revision.commit : null,
        drift,
        health: sample
          ? { load1: sample.load1, memUsedPct: sample.memUsedPct, diskMaxPct: Math.max(0, ...sample.disks.map((d) => d.usedPct)) }
          : null,
        lastSeen: n.lastSeen,
      };
    }),
  };
}
