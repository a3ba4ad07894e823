export interface BackoffOptions {
  /** Floor: no retry comes sooner than this after the previous attempt. */
  backoffMinMs: number;
  /** Largest delay ever returned. */
  backoffMaxMs: number;
  /** Source of randomness in [0, 1); injectable so tests can check the bounds exactly. @default Math.random */
  random?: () => number;
}

/**
 * Exponential backoff with full jitter above a floor: delay = random in
 * [min, min(max, 2·min·1.5^n)). The jitter spreads a thousand agents
 * reconnecting to a restarted hub instead of having them knock in lockstep;
 * the floor keeps any one agent from retrying more often than once per
 * backoffMinMs (full jitter from 0 let a refused agent retry within
 * milliseconds). Growth 1.5 rather than 2 (gRPC uses 1.6) keeps the tail of a
 * storm short when the hub was down for several seconds: the agents that
 * knocked just before it came back do not wait twice the downtime (see
 * test/security/storms.test.ts). `reset()` after a stable connection.
 */
/** Each attempt's range grows by this factor. */
const GROWTH = 1.5;

export class Backoff {
  readonly #opts: Required<BackoffOptions>;
  #attempt = 0;

  constructor(opts: BackoffOptions) {
    if (opts.backoffMinMs <= 0 || opts.backoffMaxMs < opts.backoffMinMs) {
      throw new RangeError(`bad backoff bounds: ${opts.backoffMinMs}..${opts.backoffMaxMs} ms`);
    }
    this.#opts = { random: Math.random, ...opts };
  }

  /** The top of the current attempt's range (exclusive unless it equals the floor). */
  ceilingMs(): number {
    // 1.5^100 is far past any sane cap; limiting the exponent avoids Infinity.
    return Math.min(this.#opts.backoffMaxMs, 2 * this.#opts.backoffMinMs * GROWTH ** Math.min(this.#attempt, 100));
  }

  /** The delay before the next attempt, in [backoffMinMs, ceilingMs()); each call moves one attempt further. */
  next(): number {
    const { backoffMinMs } = this.#opts;
    const delay = backoffMinMs + Math.floor(this.#opts.random() * (this.ceilingMs() - backoffMinMs));
    this.#attempt++;
    return delay;
  }

  /** The longest delay: used after a refusal that retrying soon cannot fix (wrong hub key). */
  max(): number {
    this.#attempt++;
    return this.#opts.backoffMaxMs;
  }

  get attempts(): number {
    return this.#attempt;
  }

  reset(): void {
    this.#attempt = 0;
  }
}
