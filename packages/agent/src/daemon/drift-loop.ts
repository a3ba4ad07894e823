import type { ApplyReport, BundlePayload, DriftReport, Facts } from '@stems/shared';
import type { Logger } from 'pino';
import { watchedPaths } from '../drift/managed-paths.js';
import { PathWatcher } from '../drift/watcher.js';
import { normalizeRoot } from '../system/safe-fs.js';
import { DriftTracker, enforcementPayload } from './drift.js';
import type { Engine } from './engine-port.js';

export interface DriftLoopOptions {
  /** The agent's root prefix (DESIGN §3 --root). */
  root: string;
  engine: Pick<Engine, 'check'>;
  /** Full re-check period: what watching cannot see (units stopped by hand, some owner changes). */
  fullCheckMs: number;
  /** Quiet time that ends a burst of file events. */
  debounceMs: number;
  /** @default MAX_WATCHES */
  maxWatches?: number | undefined;
  /** Runs a task on the daemon's one chain, after any apply in progress. */
  enqueue(what: string, task: () => Promise<void>): void;
  /** The last good bundle and the facts to render it with; undefined before any bundle. */
  current(): { payload: BundlePayload; facts: Facts } | undefined;
  /** Applies the repairing part of the bundle and records and sends its report. */
  enforce(payload: BundlePayload): Promise<ApplyReport>;
  /** Sends (or queues) a drift report. */
  deliver(drift: DriftReport): Promise<void>;
  now(): Date;
  log: Logger;
}

/**
 * Drift detection of the last good bundle: a file watcher for changes in
 * well under a second, plus a full re-check on an interval. Every check runs
 * on the daemon's chain, so it never overlaps an apply, and compares against
 * the bundle: the agent's own writes match it and so are never drift.
 */
export class DriftLoop {
  readonly #opts: DriftLoopOptions;
  readonly #tracker = new DriftTracker();
  readonly #watcher: PathWatcher;
  readonly #root: string;
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: DriftLoopOptions) {
    this.#opts = opts;
    this.#root = normalizeRoot(opts.root);
    this.#watcher = new PathWatcher({
      root: this.#root,
      debounceMs: opts.debounceMs,
      ...(opts.maxWatches === undefined ? {} : { maxWatches: opts.maxWatches }),
      log: opts.log,
      onChange: (ids) => opts.enqueue('drift check (watch)', () => this.check(ids)),
    });
  }

  start(): void {
    this.#timer = setInterval(() => this.#opts.enqueue('drift check (full)', () => this.check()), this.#opts.fullCheckMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#watcher.close();
  }

  /** Directories the watcher holds now (for tests and logs). */
  get watchedDirs(): string[] {
    return this.#watcher.watchedDirs;
  }

  /** A new bundle is the node's desired state: open drift of the old one is void, its paths are watched. */
  bundleChanged(payload: BundlePayload): void {
    this.#tracker.clear();
    const paths = watchedPaths(payload, this.#root);
    this.#watcher.setPaths(paths);
    this.#opts.log.debug({ paths: paths.length, dirs: this.#watcher.watchedDirs.length }, 'watching managed paths');
  }

  /** Checks some resources (a watcher burst) or all of them; reports drift, repairs enforce resources. */
  async check(ids?: ReadonlySet<string>): Promise<void> {
    const current = this.#opts.current();
    if (!current) return;
    const { payload, facts } = current;
    const results = await this.#opts.engine.check(payload, facts, ids && [...ids]);
    for (const r of results) if (r.error) this.#opts.log.warn({ id: r.id, error: r.error }, 'drift check could not read resource');
    const { items, enforce } = this.#tracker.observe(payload, results, this.#opts.now());
    // "drifted" goes out before the repair, so the hub records when it was seen even if the repair is quick.
    if (items.length > 0) {
      this.#opts.log.info({ items: items.map((i) => `${i.id} ${i.status}`) }, 'drift');
      await this.#opts.deliver({ serial: payload.serial, items });
    }
    if (enforce.size > 0) {
      const report = await this.#opts.enforce(enforcementPayload(payload, enforce));
      const repaired = this.#tracker.repaired(report, enforce, this.#opts.now());
      if (repaired.length > 0) {
        this.#opts.log.info({ ids: repaired.map((i) => i.id) }, 'drift repaired');
        await this.#opts.deliver({ serial: payload.serial, items: repaired });
      }
    }
    // a deleted and re-created parent directory needs a fresh watch
    this.#watcher.refresh();
  }
}
