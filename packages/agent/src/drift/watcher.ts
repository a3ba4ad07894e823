import { type FSWatcher, statSync, watch } from 'node:fs';
import { dirname, join } from 'node:path';
import { errnoCode } from '@stems/shared';
import type { Logger } from 'pino';
import { affects, type WatchedPath, watchDirOf } from './managed-paths.js';

/** Directories watched at most (inotify watches are a per-user kernel budget). @default 1024 */
export const MAX_WATCHES = 1024;
/** Events closer together than this are one change (an editor's write, rename, chmod). @default 150 ms */
export const DEFAULT_DEBOUNCE_MS = 150;

export interface PathWatcherOptions {
  /** The root prefix ('' = the real root): watches never climb above it. */
  root: string;
  /** Quiet time that ends a burst of events. @default DEFAULT_DEBOUNCE_MS */
  debounceMs?: number;
  /** @default MAX_WATCHES */
  maxWatches?: number;
  /** Called once per burst with the ids of the resources it may have touched. */
  onChange(ids: ReadonlySet<string>): void;
  log: Logger;
}

interface Watch {
  watcher: FSWatcher;
  /** Identity at watch time: a directory replaced under the same name needs a new watch. */
  id: string;
}

/**
 * A directory's identity: inode plus birth time, since a deleted directory's
 * inode number is often reused at once by the next mkdir.
 */
function identityOf(path: string): string | undefined {
  try {
    const st = statSync(path);
    return st.isDirectory() ? `${st.ino}:${st.birthtimeMs}` : undefined;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR' || errnoCode(err) === 'EACCES') return undefined;
    throw err;
  }
}

/**
 * Watches the parent directories of managed paths with inotify (fs.watch)
 * and reports bursts of changes as resource ids, so drift is seen in a
 * fraction of a second instead of at the next full check. Best effort by
 * design: a directory that cannot be watched (missing, over the cap, an
 * inotify error) is left to the daemon's full re-check on its interval.
 */
export class PathWatcher {
  readonly #opts: PathWatcherOptions;
  readonly #debounceMs: number;
  readonly #maxWatches: number;
  readonly #watches = new Map<string, Watch>();
  #paths: WatchedPath[] = [];
  #pending = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #burstStart = 0;
  #warnedCap = false;
  #closed = false;

  constructor(opts: PathWatcherOptions) {
    this.#opts = opts;
    this.#debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.#maxWatches = opts.maxWatches ?? MAX_WATCHES;
  }

  /** Directories watched now. */
  get watchedDirs(): string[] {
    return [...this.#watches.keys()].sort();
  }

  /** Replaces the set of managed paths (after an apply of a new bundle). */
  setPaths(paths: readonly WatchedPath[]): void {
    this.#paths = [...paths];
    this.refresh();
  }

  /**
   * Brings the watches in line with the paths: drops those no longer needed
   * or whose directory was replaced, adds missing ones up to the cap. Cheap
   * (a stat per directory); the daemon calls it after every check, which is
   * how a deleted and re-created directory gets watched again.
   * @returns how many managed paths are covered only by the full re-check
   */
  refresh(): number {
    if (this.#closed) return this.#paths.length;
    const wanted = new Set<string>();
    for (const p of this.#paths) {
      const dir = this.#existingAncestor(watchDirOf(p.path));
      if (dir !== undefined) wanted.add(dir);
    }
    for (const [dir, w] of this.#watches) {
      if (!wanted.has(dir) || identityOf(dir) !== w.id) this.#unwatch(dir);
    }
    let skipped = 0;
    for (const dir of [...wanted].sort()) {
      if (this.#watches.has(dir)) continue;
      if (this.#watches.size >= this.#maxWatches) {
        skipped++;
        continue;
      }
      this.#watch(dir);
    }
    if (skipped > 0 && !this.#warnedCap) {
      this.#warnedCap = true;
      this.#opts.log.warn({ maxWatches: this.#maxWatches, skipped }, 'too many directories to watch; the rest rely on the full re-check');
    }
    return this.#paths.filter((p) => !this.#watches.has(this.#existingAncestor(watchDirOf(p.path)) ?? '')).length;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const dir of [...this.#watches.keys()]) this.#unwatch(dir);
  }

  /** The directory itself, or the nearest existing ancestor inside the root (a parent may not exist yet). */
  #existingAncestor(dir: string): string | undefined {
    const floor = this.#opts.root === '' ? '/' : this.#opts.root;
    let current = dir;
    for (;;) {
      if (identityOf(current) !== undefined) return current;
      if (current === floor || current === '/' || !current.startsWith(floor)) return undefined;
      current = dirname(current);
    }
  }

  #watch(dir: string): void {
    const id = identityOf(dir);
    if (id === undefined) return;
    try {
      const watcher = watch(dir, { persistent: false }, (_event, filename) => this.#onEvent(dir, filename));
      watcher.on('error', (err) => {
        this.#opts.log.warn({ err, dir }, 'directory watch failed; the full re-check covers it');
        this.#unwatch(dir);
        this.#touch(this.#paths.filter((p) => affects(dir, p.path)).map((p) => p.id));
      });
      this.#watches.set(dir, { watcher, id });
    } catch (err) {
      // ENOSPC: the inotify watch budget is spent; ENOENT: gone since the stat
      this.#opts.log.warn({ err, dir }, 'cannot watch directory; the full re-check covers it');
    }
  }

  #unwatch(dir: string): void {
    this.#watches.get(dir)?.watcher.close();
    this.#watches.delete(dir);
  }

  #onEvent(dir: string, filename: string | Buffer | null): void {
    // No name: something happened to the directory itself; every path below it may be affected.
    const changed = filename === null ? dir : join(dir, filename.toString());
    this.#touch(this.#paths.filter((p) => affects(changed, p.path) || (filename === null && affects(dir, p.path))).map((p) => p.id));
  }

  #touch(ids: readonly string[]): void {
    if (ids.length === 0 || this.#closed) return;
    for (const id of ids) this.#pending.add(id);
    const now = Date.now();
    if (this.#timer === undefined) this.#burstStart = now;
    clearTimeout(this.#timer);
    // Trailing debounce, but a never-ending stream of events still flushes every few windows.
    const due = Math.min(now + this.#debounceMs, this.#burstStart + 4 * this.#debounceMs);
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, due - now));
  }

  #flush(): void {
    this.#timer = undefined;
    const ids = this.#pending;
    this.#pending = new Set();
    if (ids.size > 0) this.#opts.onChange(ids);
  }
}
