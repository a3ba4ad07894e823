import type { DriftAspect, HealthSample } from '@stems/shared';
import { storedPayload } from './approval/payload.js';
import type { HubCore } from './core.js';
import type { NodeRecord } from './store/nodes.js';
import { LIVENESS_FLUSH_MS } from './ws/liveness.js';

/** Health samples a node may miss before it counts as offline. @default 3 */
export const MISSED_HEARTBEATS = 3;
/** last_seen reaches the store up to this late (ws/liveness.ts writes it behind): no node is offline for that. */
export const LAST_SEEN_GRACE_MS = LIVENESS_FLUSH_MS;
/** Health period assumed for a node that has not said its own (older agents; none sent yet). @default 15000 ms */
export const DEFAULT_HEALTH_INTERVAL_MS = 15_000;

export type NodeStatusState = 'pending' | 'applying' | 'converged' | 'failed' | 'drifted' | 'offline';

/** One resource drifted right now (report policy, or enforce not repaired yet). */
export interface DriftView {
  id: string;
  aspects: DriftAspect[];
  detectedAt: string;
  /** Unified diff of the text; absent for sensitive files and non-text aspects. */
  diff?: string;
}

export interface NodeStatus {
  name: string;
  state: NodeStatusState;
  /** Serial the node last applied successfully (0 when none); a failed apply does not lower it. */
  serial: number;
  /** Commit of that serial's bundle. */
  revision: string | null;
  /** Resources drifted right now. */
  drift: number;
  health: { load1: number; memUsedPct: number; diskMaxPct: number } | null;
  lastSeen: string | null;
  /** The drifted resources behind `drift` (an extension of DESIGN §8). */
  drifted: DriftView[];
  /** The node's health period; offline after MISSED_HEARTBEATS of them without a word. */
  healthIntervalMs: number;
  /**
   * The node's newest heartbeat said its last good bundle has expired with no
   * newer one received (the hub was away past the bundle lifetime). The node
   * keeps enforcing that bundle; the next re-signed bundle clears it.
   */
  stale: boolean;
}

/** `hub status --json` (DESIGN §8, extended with `drifted`, `healthIntervalMs` and `stale` per node). */
export interface HubStatus {
  cluster: string | null;
  branch: string;
  latestRevision: { commit: string; subject: string } | null;
  pendingRevisions: number;
  nodes: NodeStatus[];
}

/** States that make `hub status` exit 1: something a human should look at. */
export const ALERT_STATES: ReadonlySet<NodeStatusState> = new Set(['failed', 'drifted', 'offline']);

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

const FAILED = new Set(['failed', 'rolled_back', 'rejected']);

/**
 * The one place a node's state is decided, from stored facts only:
 * pending (not accepted, or nothing approved for it) → offline (no word for
 * MISSED_HEARTBEATS health periods) → failed (the newest report about the
 * current bundle failed) → applying (no report about the current bundle yet)
 * → drifted (resources differ now) → converged.
 */
function nodeStatus(hub: HubCore, n: NodeRecord, now: number): NodeStatus {
  const { store } = hub;
  const bundle = store.bundles.latest(n.name);
  const applied = store.events.lastReport(n.name, { applied: true });
  const serial = applied?.serial ?? 0;
  const current = bundle ? store.events.lastReport(n.name, { minSerial: bundle.serial }) : undefined;
  const appliedBundle = serial > 0 ? store.bundles.history(n.name).find((b) => b.serial === serial) : undefined;
  // drift found against an older bundle is void once a newer one is applied
  const drifted = store.events
    .openDrift(n.name, serial)
    .map(({ id, aspects, detectedAt, diff }): DriftView => ({ id, aspects, detectedAt, ...(diff === undefined ? {} : { diff }) }));
  const sample: HealthSample | undefined = store.events.latestHealth(n.name);
  const healthIntervalMs = sample?.intervalMs ?? DEFAULT_HEALTH_INTERVAL_MS;
  let state: NodeStatusState;
  if (n.state === 'pending' || !bundle) state = 'pending';
  else if (!n.lastSeen || now - Date.parse(n.lastSeen) > MISSED_HEARTBEATS * healthIntervalMs + LAST_SEEN_GRACE_MS) state = 'offline';
  else if (current && FAILED.has(current.status)) state = 'failed';
  else if (!current) state = 'applying';
  else if (drifted.length > 0) state = 'drifted';
  else state = 'converged';
  return {
    name: n.name,
    state,
    serial,
    revision: appliedBundle ? storedPayload(appliedBundle.envelope).revision.commit : (applied?.report.commit ?? null),
    drift: drifted.length,
    health: sample
      ? { load1: sample.load1, memUsedPct: sample.memUsedPct, diskMaxPct: Math.max(0, ...sample.disks.map((d) => d.usedPct)) }
      : null,
    lastSeen: n.lastSeen,
    drifted,
    healthIntervalMs,
    stale: sample?.stale ?? false,
  };
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
    nodes: nodes.map((n) => nodeStatus(hub, n, now)),
  };
}

/** Exit code of `hub status`: 1 when a node is failed, drifted or offline; pending and applying are normal transitions. */
export function statusExitCode(status: HubStatus): 0 | 1 {
  return status.nodes.some((n) => ALERT_STATES.has(n.state)) ? 1 : 0;
}
