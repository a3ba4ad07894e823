export interface BackoffOptions {
  /** Smallest cap (first retry). */
  backoffMinMs: number;
  /** Largest delay ever returned. */
  backoffMaxMs: number;
  /** Source of randomness in [0, 1); injectable so tests can check the bounds exactly. @default Math.random */
  random?: () => number;
}

/**
 * Exponential backoff with full jitter (delay = random(0, min(max, min·2^n))),
 * which spreads a hundred agents reconnecting to a restarted hub instead of
 * having them knock in lockstep. `reset()` after a stable connection.
 */
export class Backoff {
  readonly #opts: Required<BackoffOptions>;
  #attempt = 0;

  constructor(opts: BackoffOptions) {
    if (opts.backoffMinMs <= 0 || opts.backoffMaxMs < opts.backoffMinMs) {
      throw new RangeError(`bad backoff bounds: ${opts.backoffMinMs}..${opts.backoffMaxMs} ms`);
    }
    this.#opts = { random: Math.random, ...opts };
  }

  /** The cap for the current attempt, before jitter. */
  ceilingMs(): number {
    // 2^30 is far past any sane cap; limiting the exponent avoids Infinity.
    return Math.min(this.#opts.backoffMaxMs, this.#opts.backoffMinMs * 2 ** Math.min(this.#attempt, 30));
  }

  /** The delay before the next attempt; each call moves one attempt further. */
  next(): number {
    const delay = Math.floor(this.#opts.random() * this.ceilingMs());
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
