import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * One full garbage collection a few seconds after the daemon's work queue
 * drains. Otherwise what an apply, a full drift re-check or a facts refresh
 * left behind waits for V8's memory reducer, which a busy node can keep away
 * for minutes: about 5 MB of the idle daemon's ~59 MB (bench/RESULTS.md,
 * "Daemon memory, 2026-12-04"). A collection of the daemon's ~15 MB heap
 * costs about 10 ms, after work that took longer.
 */
export class IdleCollector {
  readonly #gc: () => void;
  readonly #delayMs: number;
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param delayMs longer than V8's 5 s allocation-rate window: a collection
   * after a quiet window also gives back the young generation the work grew
   * (1 MB); one a second after the work keeps it (measured, RESULTS.md).
   */
  constructor(delayMs = 6000, gc: () => void = exposedGc()) {
    this.#delayMs = delayMs;
    this.#gc = gc;
  }

  /** Collects once, delayMs from now; calls before it ran change nothing. Never keeps the process alive. */
  schedule(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#gc();
    }, this.#delayMs).unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** V8's own full collection, without starting node with --expose-gc. */
function exposedGc(): () => void {
  // V8 puts `gc` only on contexts made after the flag is set: a new, empty one.
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc');
}
