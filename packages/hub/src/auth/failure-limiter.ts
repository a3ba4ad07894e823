/**
 * Counts failed authentications per client address in a fixed window, so a
 * token or signature cannot be guessed at full speed.
 */
export class FailureLimiter {
  readonly #counts = new Map<string, { count: number; windowStart: number }>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
  ) {}

  blocked(client: string, nowMs: number): boolean {
    const entry = this.#counts.get(client);
    if (!entry || nowMs - entry.windowStart >= this.windowMs) return false;
    return entry.count >= this.maxFailures;
  }

  fail(client: string, nowMs: number): void {
    const entry = this.#counts.get(client);
    if (!entry || nowMs - entry.windowStart >= this.windowMs) {
      if (this.#counts.size > 10_000) this.#prune(nowMs);
      this.#counts.set(client, { count: 1, windowStart: nowMs });
    } else entry.count++;
  }

  #prune(nowMs: number): void {
    for (const [client, entry] of this.#counts) if (nowMs - entry.windowStart >= this.windowMs) this.#counts.delete(client);
  }
}
