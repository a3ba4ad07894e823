import type { HealthSample } from '@stems/shared';
import type { Store } from '../store/index.js';

/**
 * How long liveness writes are held before one transaction stores them all.
 * @default 1000
 */
export const LIVENESS_FLUSH_MS = 1_000;

/**
 * Write-behind for what every connected agent sends all the time: `last_seen`
 * (on every frame, ping and pong) and health samples (every 15 s by default).
 * Each used to be its own SQLite transaction, an fsync each
 * (synchronous=FULL): 5000 agents made 333 health commits a second, and after
 * a hub restart 1000 reconnecting agents made 3000 last_seen commits
 * (test/security/storms.test.ts, bench/hub-capacity.ts). Both are liveness
 * hints read against heartbeat periods of seconds, and an agent never queues
 * health, so a second of delay costs nothing and a crash loses at most one
 * second of samples; now one transaction per second stores them. Reports and
 * drift, which the agent does not send twice, are still stored at once.
 */
export class Liveness {
  readonly #seen = new Map<string, string>();
  readonly #health = new Map<string, HealthSample>();
  readonly #store: Pick<Store, 'nodes' | 'events' | 'transaction'>;
  readonly #flushMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Pick<Store, 'nodes' | 'events' | 'transaction'>, flushMs = LIVENESS_FLUSH_MS) {
    this.#store = store;
    this.#flushMs = flushMs;
  }

  /** Records that `node` was heard from at `at` (ISO time); stored within flushMs. */
  touch(node: string, at: string): void {
    this.#seen.set(node, at);
    this.#schedule();
  }

  /** Records a health sample of `node` (the newest replaces the one before); stored within flushMs. */
  health(node: string, sample: HealthSample): void {
    this.#health.set(node, sample);
    this.#schedule();
  }

  /** Stores what is pending now, in one transaction (also at shutdown, before the store closes). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#seen.size === 0 && this.#health.size === 0) return;
    this.#store.transaction(() => {
      for (const [node, at] of this.#seen) this.#store.nodes.touch(node, at);
      this.#store.events.setHealth(this.#health);
    });
    this.#seen.clear();
    this.#health.clear();
  }

  #schedule(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => this.flush(), this.#flushMs);
    this.#timer.unref();
  }
}
