import type { Db } from '../store/db.js';

/**
 * Counts failed authentications per client address in a fixed window, so a
 * token or signature cannot be guessed at full speed. The counts live in the
 * hub database (table auth_failures), so restarting the hub does not hand a
 * guesser a fresh budget.
 */
export class FailureLimiter {
  readonly #count;
  readonly #fail;
  readonly #prune;

  constructor(
    db: Db,
    private readonly limit: { maxFailures: number; windowMs: number },
  ) {
    this.#count = db.prepare<[string, number], { count: number }>('SELECT count FROM auth_failures WHERE client = ? AND window_start > ?');
    // SET expressions see the old row, so both columns test the same window.
    this.#fail = db.prepare<{ client: string; now: number; windowMs: number }>(
      `INSERT INTO auth_failures (client, window_start, count) VALUES (@client, @now, 1)
       ON CONFLICT (client) DO UPDATE SET
         count = CASE WHEN @now - window_start >= @windowMs THEN 1 ELSE count + 1 END,
         window_start = CASE WHEN @now - window_start >= @windowMs THEN @now ELSE window_start END`,
    );
    this.#prune = db.prepare<[number]>('DELETE FROM auth_failures WHERE window_start <= ?');
  }

  blocked(client: string, nowMs: number): boolean {
    const row = this.#count.get(client, nowMs - this.limit.windowMs);
    return row !== undefined && row.count >= this.limit.maxFailures;
  }

  fail(client: string, nowMs: number): void {
    this.#fail.run({ client, now: nowMs, windowMs: this.limit.windowMs });
    // Old windows are forgotten as new failures come, so the table stays small.
    this.#prune.run(nowMs - this.limit.windowMs);
  }
}
