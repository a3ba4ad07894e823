import type { ApplyReport, BundlePayload, HubMessage, KeyPair } from '@stems/shared';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/schema.js';
import { beatFor, HubConnection } from '../connection/client.js';
import { type CachedFacts, currentFacts, refreshFacts } from '../facts/cache.js';
import { clearJoinToken, loadNodeKey, readJoinToken } from '../identity/keys.js';
import { Outbox, type OutboxItem } from '../state/outbox.js';
import { AgentState } from '../state/store.js';
import { failedReport, loadLastGood, receiveBundle } from './bundle.js';
import { DriftLoop } from './drift-loop.js';
import { type Engine, loadEngine } from './engine-port.js';
import { sampleHealth, unitStates } from './health.js';

export interface DaemonOptions {
  config: AgentConfig;
  log: Logger;
  agentVersion: string;
  /** The resource engine; loaded from src/engine when absent. */
  engine?: Engine;
  /** The clock for bundle expiry, `stale` and report times. @default real time (tests inject a simulated one) */
  now?: () => Date;
  /** Directories the drift watcher holds at most. @default MAX_WATCHES */
  maxWatches?: number;
  /** Called each time the queue of work (applies, drift checks, facts refreshes) has drained. */
  onIdle?: () => void;
  /**
   * Gathers fresh facts and writes the cache. @default refreshFacts, in this
   * process (`stems-agent run` uses a child process: facts/child.ts)
   */
  refreshFacts?: () => Promise<CachedFacts>;
}

/**
 * `stems-agent run`: keeps one connection to the hub, accepts and applies
 * bundles, enforces the last good bundle while the hub is away, and reports
 * results, drift and health. All applies run one at a time on one chain.
 */
export class Daemon {
  readonly state: AgentState;
  readonly outbox: Outbox;
  readonly #cfg: AgentConfig;
  readonly #log: Logger;
  readonly #now: () => Date;
  readonly #opts: DaemonOptions;
  readonly #gatherFacts: () => Promise<CachedFacts>;
  #drift!: DriftLoop;
  #engine!: Engine;
  #conn!: HubConnection;
  #facts!: CachedFacts;
  #lastGood: BundlePayload | undefined;
  #lastSerial = 0;
  #cluster: string | undefined;
  #joinToken: string | undefined;
  #lastReport: ApplyReport | undefined;
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #intervals: NodeJS.Timeout[] = [];

  private constructor(opts: DaemonOptions) {
    this.#opts = opts;
    this.#cfg = opts.config;
    this.#log = opts.log;
    this.#now = opts.now ?? (() => new Date());
    const { paths } = opts.config;
    this.#gatherFacts = opts.refreshFacts ?? (() => refreshFacts({ stateDir: paths.state, factsDir: paths.factsDir, log: opts.log }));
    this.state = new AgentState(opts.config.paths.state);
    this.outbox = new Outbox(opts.config.paths.state);
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(opts);
    await daemon.#start();
    return daemon;
  }

  get lastSerial(): number {
    return this.#lastSerial;
  }
  get connected(): boolean {
    return this.#conn.ready;
  }

  async #start(): Promise<void> {
    const { paths, intervals } = this.#cfg;
    const keyPair: KeyPair = await loadNodeKey(paths.state);
    this.#lastSerial = await this.state.lastSerial();
    const learned = await this.state.cluster();
    if (this.#cfg.cluster && learned && learned !== this.#cfg.cluster) {
      this.#log.warn({ config: this.#cfg.cluster, learned }, 'config cluster differs from the learned one; using the config');
    }
    this.#cluster = this.#cfg.cluster ?? learned;
    this.#joinToken = await readJoinToken(paths.state);
    this.#lastReport = await this.state.readLastReport();
    this.#facts = await currentFacts({
      stateDir: paths.state,
      factsDir: paths.factsDir,
      maxAgeMs: intervals.factsRefreshMs,
      log: this.#log,
      refresh: this.#gatherFacts,
    });
    this.#engine = this.#opts.engine ?? (await loadEngine({ root: paths.root, log: this.#log }));
    this.#drift = new DriftLoop({
      root: paths.root,
      engine: this.#engine,
      fullCheckMs: intervals.driftMs,
      debounceMs: intervals.driftDebounceMs,
      maxWatches: this.#opts.maxWatches,
      enqueue: (what, task) => this.#enqueue(what, task),
      current: () => this.#lastGood && { payload: this.#lastGood, facts: this.#facts.facts },
      enforce: (payload) => this.#enforcePart(payload),
      deliver: (drift) => this.#deliver({ type: 'drift', payload: drift }),
      now: this.#now,
      log: this.#log.child({ module: 'drift' }),
    });
    await this.#loadLastGood();
    // Enforce what we have before (and whether or not) the hub answers.
    if (this.#lastGood) this.#enqueue('enforce at start', () => this.#enforce());

    this.#conn = new HubConnection({
      wsUrl: this.#cfg.wsUrl,
      node: this.#cfg.node,
      keyPair,
      hubKey: this.#cfg.hubKey,
      agentVersion: this.#opts.agentVersion,
      lastSerial: () => this.#lastSerial,
      joinToken: () => this.#joinToken,
      backoffMinMs: intervals.backoffMinMs,
      backoffMaxMs: intervals.backoffMaxMs,
      stableMs: intervals.stableMs,
      pingMs: intervals.pingMs,
      beatMs: beatFor(intervals.healthMs),
      log: this.#log.child({ module: 'connection' }),
      handlers: {
        welcome: (w) => this.#enqueue('welcome', () => this.#onWelcome(w.cluster, w.serial)),
        message: (m) => this.#onMessage(m),
      },
    });
    this.#conn.start();
    this.#every(intervals.pollMs, () => this.#getBundle('poll'));
    this.#every(intervals.factsRefreshMs, () => this.#enqueue('facts refresh', () => this.#refreshFacts()));
    this.#every(intervals.healthMs, () => void this.#sendHealth());
    this.#drift.start();
  }

  /** Stops timers and the connection, then waits for the apply in progress. */
  async stop(): Promise<void> {
    for (const t of this.#intervals) clearInterval(t);
    this.#intervals = [];
    this.#drift?.stop();
    await this.#conn?.stop();
    await this.#chain;
  }

  /** Runs a full drift check now (after queued work); resolves when it is done. */
  checkDrift(): Promise<void> {
    this.#enqueue('drift check (asked)', () => this.#drift.check());
    return this.#chain;
  }

  /** Resolves when all queued work (applies, drift checks) has finished. */
  idle(): Promise<void> {
    return this.#chain;
  }

  #every(ms: number, fn: () => void): void {
    this.#intervals.push(setInterval(fn, ms));
  }

  #enqueue(what: string, task: () => Promise<void>): void {
    this.#queued++;
    this.#chain = this.#chain
      .then(task)
      .catch((err: unknown) => this.#log.error({ err, task: what }, 'agent task failed'))
      .finally(() => {
        if (--this.#queued === 0) this.#opts.onIdle?.();
      });
  }

  async #loadLastGood(): Promise<void> {
    if (!this.#cluster) return;
    const anchor = { hubKey: this.#cfg.hubKey, node: this.#cfg.node, cluster: this.#cluster, now: this.#now(), log: this.#log };
    this.#lastGood = (await loadLastGood(this.state, anchor))?.payload;
    if (this.#lastGood) this.#drift.bundleChanged(this.#lastGood);
  }

  async #onWelcome(cluster: string, serial: number): Promise<void> {
    if (this.#cfg.cluster && cluster !== '' && cluster !== this.#cfg.cluster) {
      this.#log.error({ expected: this.#cfg.cluster, got: cluster }, 'hub placed this node in another cluster; ignoring its bundles');
      return;
    }
    // A hub that has not synced its repository yet knows no cluster (""):
    // then the first signed bundle names it.
    if (cluster !== '' && this.#cluster !== cluster) {
      this.#cluster = cluster;
      await this.state.setCluster(cluster);
      await this.#loadLastGood();
    }
    if (this.#joinToken) {
      this.#joinToken = undefined;
      await clearJoinToken(this.#cfg.paths.state);
    }
    this.#conn.send('facts', { facts: this.#facts.facts, hash: this.#facts.hash });
    await this.#flush();
    if (serial > this.#lastSerial) this.#getBundle('welcome');
  }

  #onMessage(msg: HubMessage): void {
    switch (msg.type) {
      case 'bundle.available':
        if (msg.payload.serial > this.#lastSerial) this.#getBundle('announced');
        return;
      case 'bundle': {
        const text = JSON.stringify(msg.payload.envelope);
        this.#enqueue('bundle', () => this.#onBundle(text));
        return;
      }
      case 'error':
        this.#log.warn({ error: msg.payload }, 'hub reported an error');
        return;
      default:
        this.#log.debug({ type: msg.type }, 'hub message');
    }
  }

  #getBundle(why: 'poll' | 'welcome' | 'announced'): void {
    const have = { have: this.#lastSerial };
    // The safety-net poll is routine and waits for the beat; a pull for news goes now.
    const sent = why === 'poll' ? this.#conn.sendOnBeat('bundle.get', have) : this.#conn.send('bundle.get', have);
    if (sent) this.#log.debug({ why }, 'asked for bundle');
  }

  async #onBundle(envelopeText: string): Promise<void> {
    // Two pulls in flight (a welcome racing an announcement) both bring the
    // new bundle: the second is no news and no replay, so it is neither
    // re-applied nor reported as rejected (a `rejected` report would show a
    // converged node as failed).
    if (envelopeText === (await this.state.readBundle())) {
      this.#log.debug({ serial: this.#lastSerial }, 'bundle already held');
      return;
    }
    const outcome = await receiveBundle(envelopeText, {
      state: this.state,
      hubKey: this.#cfg.hubKey,
      node: this.#cfg.node,
      cluster: this.#cluster,
      now: this.#now(),
      log: this.#log,
      factsHash: this.#facts.hash,
      apply: (payload) => this.#apply(payload),
    });
    if (outcome.accepted) {
      this.#cluster = outcome.payload.cluster;
      this.#lastGood = outcome.payload;
      this.#lastSerial = outcome.payload.serial;
      this.#lastReport = outcome.report;
      this.#drift.bundleChanged(outcome.payload);
    }
    await this.#deliver({ type: 'report', payload: outcome.report });
  }

  async #apply(payload: BundlePayload): Promise<ApplyReport> {
    const startedAt = this.#now();
    try {
      return await this.#engine.apply(payload, this.#facts.facts, this.#facts.hash);
    } catch (err) {
      this.#log.error({ err, serial: payload.serial }, 'apply threw');
      return failedReport(payload, err, this.#facts.hash, startedAt);
    }
  }

  /** Re-applies the last good bundle (at start, after a facts change). */
  async #enforce(): Promise<void> {
    if (!this.#lastGood) return;
    const report = await this.#apply(this.#lastGood);
    this.#lastReport = report;
    await this.state.writeLastReport(report);
    await this.#deliver({ type: 'report', payload: report });
  }

  async #refreshFacts(): Promise<void> {
    const fresh = await this.#gatherFacts();
    if (fresh.hash === this.#facts.hash) return;
    this.#facts = fresh;
    this.#log.info({ hash: fresh.hash }, 'facts changed');
    this.#conn.send('facts', { facts: fresh.facts, hash: fresh.hash });
    await this.#enforce(); // templates may render differently now
  }

  /** Repairs drifted enforce resources (part of the last good bundle); reported like any apply. */
  async #enforcePart(payload: BundlePayload): Promise<ApplyReport> {
    const report = await this.#apply(payload);
    this.#lastReport = report;
    await this.state.writeLastReport(report);
    await this.#deliver({ type: 'report', payload: report });
    return report;
  }

  async #sendHealth(): Promise<void> {
    if (!this.#conn.ready) return; // health is a live signal: never queued
    try {
      const now = this.#now();
      const sample = await sampleHealth({
        mounts: this.#facts.facts.filesystems.map((f) => f.mount),
        agentVersion: this.#opts.agentVersion,
        lastReport: this.#lastReport,
        stale: this.#lastGood !== undefined && now.getTime() >= Date.parse(this.#lastGood.expiresAt),
        now,
        units: await unitStates(this.#engine.systemd, this.#lastGood),
        intervalMs: this.#cfg.intervals.healthMs,
      });
      this.#conn.sendOnBeat('health', sample);
    } catch (err) {
      this.#log.warn({ err }, 'health sample failed');
    }
  }

  /** Sends now when connected (after older queued items), else queues (bounded, persisted). */
  async #deliver(item: OutboxItem): Promise<void> {
    await this.outbox.push(item);
    await this.#flush();
  }

  async #flush(): Promise<void> {
    if (!this.#conn?.ready) return;
    const items = await this.outbox.list();
    let sent = 0;
    for (const item of items) {
      const ok = item.type === 'report' ? this.#conn.send('report', item.payload) : this.#conn.send('drift', item.payload);
      if (!ok) break;
      sent++;
    }
    await this.outbox.shift(sent);
  }
}
