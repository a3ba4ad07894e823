import type { Store } from '../store/index.js';

/**
 * How long last_seen writes are held before one transaction stores them all.
 * @default 1000
 */
export const LAST_SEEN_FLUSH_MS = 1_000;

/**
 * Coalesces `last_seen` updates. Every agent frame and pong used to be its own
 * SQLite transaction, an fsync each (synchronous=FULL): after a hub restart,
 * 1000 reconnecting agents made 3000 of them, and the event loop spent most of
 * the storm waiting on the disk (test/security/storms.test.ts). last_seen is a
 * liveness hint read against heartbeats of 15 s and more, so a second of delay
 * costs nothing; now one transaction per second stores every node heard from.
 */
export class LastSeen {
  readonly #pending = new Map<string, string>();
  readonly #store: Pick<Store, 'nodes' | 'transaction'>;
  readonly #flushMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Pick<Store, 'nodes' | 'transaction'>, flushMs = LAST_SEEN_FLUSH_MS) {
    this.#store = store;
    this.#flushMs = flushMs;
  }

  /** Records that `node` was heard from at `at` (ISO time); stored within flushMs. */
  touch(node: string, at: string): void {
    this.#pending.set(node, at);
    if (this.#timer) return;
    this.#timer = setTimeout(() => this.flush(), this.#flushMs);
    this.#timer.unref();
  }

  /** Stores what is pending now, in one transaction (also at shutdown, before the store closes). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending];
    this.#pending.clear();
    this.#store.transaction(() => {
      for (const [node, at] of batch) this.#store.nodes.touch(node, at);
    });
  }
}
