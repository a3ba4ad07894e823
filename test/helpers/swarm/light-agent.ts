import { join } from 'node:path';
import {
  AGENT_DEFAULTS,
  AgentState,
  BEAT_MS,
  beatFor,
  type Engine,
  factsHash,
  HubConnection,
  loadEngine,
  receiveBundle,
} from '@stems/agent';
import type { Facts, HealthSample, HubMessage, KeyPair } from '@stems/shared';
// The agent's own test facts (a small virtual Debian host) and silent logger: reused, not copied.
import { FACTS, silent } from '../../../packages/agent/src/daemon/_test-fixtures.js';

/** A pino logger (the agent's type; pino is not a dependency of the test tree). */
type Logger = typeof silent;

/** One node's identity: its name and ed25519 node key. */
export interface NodeIdentity {
  name: string;
  keyPair: KeyPair;
}

export interface LightAgentOptions {
  /** ws://host:port/api/v1/agent */
  wsUrl: string;
  node: NodeIdentity;
  /** The pinned hub key, `ed25519:<base64>`. */
  hubKey: string;
  /** Keepalive period (pings a quiet hub). @default AGENT_DEFAULTS.intervals.pingMs */
  pingMs?: number;
  /**
   * Send a health heartbeat this often while connected, as the daemon does
   * (first one at a random point of the period, so a swarm does not beat in
   * step). The sample is a fixed one of the real shape, not measured: a
   * thousand agents in one process sampling the host would measure the host.
   * Without it the agent sends no health.
   */
  healthMs?: number;
  /**
   * Send the daemon's safety-net poll (`bundle.get` naming the serial held)
   * this often while connected, first at a random point of the period.
   * Without it the agent pulls only when told of a newer bundle.
   */
  pollMs?: number;
  /** Reconnect backoff, as the agent config names it. @default AGENT_DEFAULTS.intervals */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  stableMs?: number;
  /**
   * Accept and apply announced bundles with the real agent code (receiveBundle:
   * signature, node, cluster, serial, expiry; then the real engine) under
   * `<workDir>/root`, state in `<workDir>/state`. Without it the agent stays
   * idle and ignores announcements.
   */
  workDir?: string;
  /**
   * Verify and persist bundles as the agent does (receiveBundle) but skip the
   * engine: the report is `converged` with no resources. For benchmarks that
   * measure the hub's fan-out apart from the swarm's own disk, where a
   * thousand agents share one process and one disk. @default false
   */
  skipApply?: boolean;
  log?: Logger;
}

/** What an idle Debian node's daemon sends (packages/agent/src/daemon/health.ts), less `at`. */
export const HEALTH_SAMPLE: Omit<HealthSample, 'at'> = {
  uptimeSec: 86_400,
  load1: 0.08,
  load5: 0.05,
  load15: 0.01,
  memUsedPct: 23.5,
  disks: [
    { mount: '/', usedPct: 41.2 },
    { mount: '/boot/efi', usedPct: 1.1 },
  ],
  units: [{ name: 'node-metrics.service', active: 'active' }],
  agentVersion: 'swarm',
  lastApply: { serial: 1, status: 'converged', at: '2026-01-01T00:00:00.000Z' },
  stale: false,
};

/** A report the agent sent, with the local time it went out. */
export interface SentReport {
  serial: number;
  status: string;
  atMs: number;
}

/**
 * A light agent: the real agent's connection (HubConnection: challenge-response
 * with its node key, hub proof, client pings, the agent's backoff) and, when it
 * has a work dir, the real bundle path (receiveBundle + engine), without the
 * daemon's drift watcher, facts gathering, outbox or health sampling (it can
 * send a fixed health sample on the daemon's schedule, `healthMs`). Many fit
 * in one process; every one is a real websocket client of the hub.
 */
export class LightAgent {
  /** Date.now() of every connection attempt (the first and each retry). */
  readonly attempts: number[] = [];
  /** Date.now() of every welcome (authenticated both ways). */
  readonly welcomes: number[] = [];
  readonly reports: SentReport[] = [];
  /** Every closed connection or failed attempt: when, the close code, whether it had been welcomed. */
  readonly closes: { atMs: number; code: number; wasReady: boolean }[] = [];
  readonly #opts: LightAgentOptions;
  readonly #conn: HubConnection;
  readonly #facts: Facts;
  #bundles: { state: AgentState; engine: Engine } | undefined;
  #lastSerial = 0;
  #cluster: string | undefined;
  #chain: Promise<void> = Promise.resolve();
  #errors: unknown[] = [];
  #timers: NodeJS.Timeout[] = [];

  constructor(opts: LightAgentOptions) {
    this.#opts = opts;
    this.#facts = { ...FACTS, hostname: opts.node.name, fqdn: `${opts.node.name}.swarm.lan` };
    const intervals = AGENT_DEFAULTS.intervals;
    this.#conn = new HubConnection({
      wsUrl: opts.wsUrl,
      node: opts.node.name,
      keyPair: opts.node.keyPair,
      hubKey: opts.hubKey,
      agentVersion: 'swarm',
      lastSerial: () => this.#lastSerial,
      backoffMinMs: opts.backoffMinMs ?? intervals.backoffMinMs,
      backoffMaxMs: opts.backoffMaxMs ?? intervals.backoffMaxMs,
      stableMs: opts.stableMs ?? intervals.stableMs,
      pingMs: opts.pingMs ?? intervals.pingMs,
      beatMs: beatFor(opts.healthMs ?? BEAT_MS), // as the daemon
      log: opts.log ?? silent,
      handlers: {
        connecting: () => this.attempts.push(Date.now()),
        welcome: (w) => this.#onWelcome(w.cluster, w.serial),
        disconnected: ({ code, wasReady }) => this.closes.push({ atMs: Date.now(), code, wasReady }),
        message: (m) => this.#onMessage(m),
      },
    });
  }

  get name(): string {
    return this.#opts.node.name;
  }
  get ready(): boolean {
    return this.#conn.ready;
  }
  get lastSerial(): number {
    return this.#lastSerial;
  }
  /** Failures of the bundle path (they also reach the hub as reports when the agent could send one). */
  get errors(): readonly unknown[] {
    return this.#errors;
  }

  /** Prepares the work dir (engine, state) if any and starts connecting. */
  async start(): Promise<void> {
    const { workDir } = this.#opts;
    if (workDir) {
      const root = join(workDir, 'root');
      const engine = await loadEngine({ root, log: this.#opts.log ?? silent });
      this.#bundles = { state: new AgentState(join(workDir, 'state')), engine };
    }
    this.#conn.start();
  }

  async stop(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    await this.#conn.stop();
    await this.#chain;
  }

  #onWelcome(cluster: string, serial: number): void {
    this.welcomes.push(Date.now());
    if (cluster !== '') this.#cluster = cluster;
    // As the daemon does: facts first, then the bundle if the hub has a newer one.
    this.#conn.send('facts', { facts: this.#facts, hash: factsHash(this.#facts) });
    if (this.#bundles && serial > this.#lastSerial) this.#pull();
    if (this.#timers.length > 0) return; // started at the first welcome
    const { healthMs, pollMs } = this.#opts;
    if (healthMs)
      this.#every(healthMs, () =>
        this.#conn.sendOnBeat('health', { ...HEALTH_SAMPLE, at: new Date().toISOString(), intervalMs: healthMs }),
      );
    if (pollMs) this.#every(pollMs, () => this.#conn.sendOnBeat('bundle.get', { have: this.#lastSerial }));
  }

  #pull(): void {
    this.#conn.send('bundle.get', { have: this.#lastSerial });
  }

  /**
   * Runs `send` every periodMs, the first time at a random point of the period
   * (each agent its own phase, as daemons started at different times; the
   * frames then wait for the beat). Sent only while connected, never queued:
   * as the daemon.
   */
  #every(periodMs: number, send: () => void): void {
    const index = this.#timers.length;
    const tick = (delayMs: number) => {
      this.#timers[index] = setTimeout(() => {
        send();
        tick(periodMs);
      }, delayMs);
    };
    tick(Math.random() * periodMs);
  }

  #onMessage(msg: HubMessage): void {
    if (!this.#bundles) return;
    if (msg.type === 'bundle.available' && msg.payload.serial > this.#lastSerial) this.#pull();
    if (msg.type === 'bundle') {
      const text = JSON.stringify(msg.payload.envelope);
      this.#chain = this.#chain
        .then(() => this.#onBundle(text))
        .catch((err: unknown) => {
          this.#errors.push(err);
        });
    }
  }

  async #onBundle(envelopeText: string): Promise<void> {
    const bundles = this.#bundles;
    if (!bundles) return;
    const hash = factsHash(this.#facts);
    const outcome = await receiveBundle(envelopeText, {
      state: bundles.state,
      hubKey: this.#opts.hubKey,
      node: this.name,
      cluster: this.#cluster,
      now: new Date(),
      log: this.#opts.log ?? silent,
      factsHash: hash,
      apply: (payload) =>
        this.#opts.skipApply
          ? Promise.resolve({
              serial: payload.serial,
              commit: payload.revision.commit,
              status: 'converged' as const,
              startedAt: new Date().toISOString(),
              durationMs: 0,
              resources: [],
              factsHash: hash,
            })
          : bundles.engine.apply(payload, this.#facts, hash),
    });
    if (outcome.accepted) {
      this.#lastSerial = outcome.payload.serial;
      this.#cluster = outcome.payload.cluster;
    } else {
      this.#errors.push(outcome.error);
    }
    // No outbox: a report the hub cannot take now is counted as not sent.
    if (this.#conn.send('report', outcome.report)) {
      this.reports.push({ serial: outcome.report.serial, status: outcome.report.status, atMs: Date.now() });
    }
  }
}
