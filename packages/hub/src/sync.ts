import { toStemsError } from '@stems/shared';
import { resignExpiring } from './approval/resign.js';
import type { HubCore } from './core.js';
import type { RevisionRecord } from './store/revisions.js';

export interface SyncResult {
  /** Revisions added by this sync, oldest first. */
  added: Pick<RevisionRecord, 'commit' | 'subject' | 'state'>[];
}

/**
 * Fetches the branch and turns every commit the hub has not seen into a
 * revision, valid or invalid with its problems, compiled with the nodes' last
 * known facts. All new revisions are stored in one transaction.
 */
export async function syncOnce(hub: HubCore): Promise<SyncResult> {
  const known = hub.store.revisions.latest();
  const commits = (await hub.fetch(known?.commit ?? null)).filter((c) => !hub.store.revisions.get(c.commit));
  const facts = hub.store.nodes.factsByNode();
  const fetchedAt = hub.now().toISOString();
  const records: RevisionRecord[] = [];
  for (const commit of commits) {
    const compiled = await hub.compile(commit, facts);
    records.push({ ...commit, state: compiled.state, problems: compiled.problems, cluster: compiled.cluster, fetchedAt });
  }
  hub.store.revisions.insert(records);
  for (const r of records) {
    hub.log.info({ commit: r.commit, state: r.state, problems: r.problems.length }, 'revision fetched');
  }
  return { added: records.map((r) => ({ commit: r.commit, subject: r.subject, state: r.state })) };
}

export interface SyncLoopOptions {
  fetchIntervalMs: number;
  /** How often to look for bundles to re-sign. @default 1 hour */
  resignCheckMs?: number;
}

/** Runs sync on an interval and on demand, never two at once; also the re-sign job. */
export class SyncLoop {
  #running: Promise<SyncResult> | null = null;
  #timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly hub: HubCore,
    private readonly options: SyncLoopOptions,
  ) {}

  /** Syncs now; a call during a running sync waits for that one. */
  sync(): Promise<SyncResult> {
    if (!this.#running) {
      this.#running = syncOnce(this.hub).finally(() => {
        this.#running = null;
      });
    }
    return this.#running;
  }

  start(): void {
    const tick = () => {
      this.sync().catch((err: unknown) => this.hub.log.warn({ err: toStemsError(err, 'STEMS_GIT_FETCH') }, 'sync failed'));
    };
    const resign = () => {
      try {
        resignExpiring(this.hub);
      } catch (err) {
        this.hub.log.error({ err }, 're-signing bundles failed');
      }
    };
    tick();
    resign();
    this.#timers.push(setInterval(tick, this.options.fetchIntervalMs), setInterval(resign, this.options.resignCheckMs ?? 3_600_000));
    for (const t of this.#timers) t.unref();
  }

  async stop(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    // A failed sync was already logged by tick(); stop only waits for it to settle.
    await this.#running?.then(
      () => undefined,
      () => undefined,
    );
  }
}
