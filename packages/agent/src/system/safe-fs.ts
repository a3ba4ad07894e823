import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { resolve } from 'node:path';
import { errnoCode, StemsError } from '@stems/shared';

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = fs.constants;

/** Temp files this module creates: `.<name>.stems-<12 hex>.tmp`, never a name a user would pick. */
export const TEMP_FILE = /^\..*\.stems-[0-9a-f]{12}\.tmp$/;

export type EntryKind = 'missing' | 'file' | 'directory' | 'symlink' | 'other';

export interface Entry {
  kind: EntryKind;
  /** Permission bits (& 0o7777); 0 when missing. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
}

export interface Meta {
  mode: number;
  /** Left as is when undefined. */
  uid?: number | undefined;
  gid?: number | undefined;
}

/** A complete temp file waiting for its fsync and rename. */
export interface Staged {
  managed: string;
  host: string;
  temp: string;
  fd: number;
}

const MISSING: Entry = Object.freeze({ kind: 'missing', mode: 0, uid: -1, gid: -1, size: 0 });

function kindOf(stat: fs.Stats): EntryKind {
  if (stat.isSymbolicLink()) return 'symlink';
  if (stat.isFile()) return 'file';
  if (stat.isDirectory()) return 'directory';
  return 'other';
}

/** '' for the real root, else the absolute root prefix without a trailing slash. */
export function normalizeRoot(root: string): string {
  if (root === '' || root === '/') return '';
  return resolve(root).replace(/\/+$/, '');
}

/**
 * Every filesystem access of the engine to managed paths. Paths given to it
 * are managed paths (absolute, normalized, checked by the bundle schema);
 * it maps them under the root and never follows a symlink at a managed path
 * or in its parents below the root. Synchronous on purpose: the no-op path
 * of a 1000-file bundle is a few thousand tiny syscalls, and a thread-pool
 * hop per syscall would cost more than the syscalls.
 */
export class SafeFs {
  readonly root: string;
  /** Parent directories already checked in this run (real directories, not links). */
  private readonly checkedDirs = new Set<string>();
  /** Directories whose entries changed: fsynced once each by flush(). */
  private readonly dirtyDirs = new Set<string>();

  constructor(root: string) {
    this.root = normalizeRoot(root);
  }

  hostPath(managed: string): string {
    return this.root + managed;
  }

  /**
   * Walks the parents of a managed path below the root with lstat. Refuses a
   * symlink (STEMS_APPLY_SYMLINK) or a non-directory; returns false when a
   * parent is missing (then the path is missing too).
   */
  checkParents(managed: string): boolean {
    const segments = managed.split('/');
    let dir = this.root;
    for (let i = 1; i < segments.length - 1; i++) {
      dir += `/${segments[i]}`;
      if (this.checkedDirs.has(dir)) continue;
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(dir);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return false;
        throw err;
      }
      if (stat.isSymbolicLink()) throw symlinkError(managed, dir.slice(this.root.length));
      if (!stat.isDirectory()) {
        throw new StemsError('STEMS_APPLY_FAILED', `Cannot manage ${managed}: ${dir.slice(this.root.length)} is not a directory`, {
          hint: 'Remove or move the file that stands where a parent directory should be.',
        });
      }
      this.checkedDirs.add(dir);
    }
    return true;
  }

  /** lstat of a managed path after checking its parents; never follows a link. */
  entry(managed: string): Entry {
    if (!this.checkParents(managed)) return MISSING;
    try {
      const stat = fs.lstatSync(this.hostPath(managed));
      return { kind: kindOf(stat), mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, size: stat.size };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return MISSING;
      throw err;
    }
  }

  /** Bytes of a regular file, opened with O_NOFOLLOW so a link swapped in meanwhile is refused. */
  readFile(managed: string): Buffer {
    const fd = this.openNoFollow(managed, O_RDONLY);
    try {
      return fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  readLink(managed: string): string {
    return fs.readlinkSync(this.hostPath(managed));
  }

  isEmptyDir(managed: string): boolean {
    const dir = fs.opendirSync(this.hostPath(managed));
    try {
      return dir.readSync() === null;
    } finally {
      dir.closeSync();
    }
  }

  /** Creates missing parents (0755), calling onCreate for each, top down, so a rollback can remove them. */
  ensureParents(managed: string, onCreate: (dir: string) => void): void {
    if (this.checkParents(managed)) return;
    const segments = managed.split('/');
    let dir = '';
    for (let i = 1; i < segments.length - 1; i++) {
      dir += `/${segments[i]}`;
      if (this.entry(dir).kind === 'directory') continue;
      this.mkdir(dir, { mode: 0o755 });
      onCreate(dir);
    }
  }

  /** mkdir with the exact mode (the umask would narrow it) and owner. */
  mkdir(managed: string, meta: Meta): void {
    const host = this.hostPath(managed);
    fs.mkdirSync(host, { mode: 0o700 });
    this.setMeta(managed, meta);
    this.checkedDirs.add(host);
    this.dirtyDirs.add(parentOf(host));
  }

  /**
   * Atomic replace: temp file in the target's directory (O_CREAT|O_EXCL|
   * O_NOFOLLOW, 0600), write, fchown + fchmod to the target's owner and mode
   * before the rename (never visible wider than its target), fsync, rename
   * over the target. The directory is fsynced by flush().
   */
  writeFile(managed: string, data: Uint8Array, meta: Meta): void {
    const staged = this.stage(managed, data, meta);
    try {
      fs.fsyncSync(staged.fd);
    } catch (err) {
      this.discard(staged);
      throw err;
    }
    this.install(staged);
  }

  /**
   * The first half of writeFile: the temp file is complete (content, owner,
   * mode) but not yet fsynced or renamed, and its descriptor is still open.
   * WriteBatch fsyncs many such files at once, then installs them in order.
   */
  stage(managed: string, data: Uint8Array, meta: Meta): Staged {
    const host = this.hostPath(managed);
    const temp = tempPath(host);
    const fd = fs.openSync(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      let offset = 0;
      while (offset < data.length) offset += fs.writeSync(fd, data, offset, data.length - offset);
      // chown first: changing the owner clears set-id bits that fchmod then sets.
      if (meta.uid !== undefined || meta.gid !== undefined) fs.fchownSync(fd, meta.uid ?? -1, meta.gid ?? -1);
      fs.fchmodSync(fd, meta.mode);
    } catch (err) {
      this.discard({ managed, host, temp, fd });
      throw err;
    }
    return { managed, host, temp, fd };
  }

  /** Closes a staged file that was fsynced and renames it over its target. */
  install(staged: Staged): void {
    fs.closeSync(staged.fd);
    this.renameIntoPlace(staged.temp, staged.host);
  }

  /** Closes and removes a staged file that will not be installed. */
  discard(staged: Staged): void {
    fs.closeSync(staged.fd);
    fs.rmSync(staged.temp, { force: true });
  }

  /** Atomic symlink replace: a temp link renamed over the path. */
  symlink(managed: string, target: string): void {
    const host = this.hostPath(managed);
    const temp = tempPath(host);
    fs.symlinkSync(target, temp);
    this.renameIntoPlace(temp, host);
  }

  /** chmod/chown through an O_NOFOLLOW descriptor, so a link swapped in is never followed. */
  setMeta(managed: string, meta: Meta): void {
    const fd = this.openNoFollow(managed, O_RDONLY);
    try {
      if (meta.uid !== undefined || meta.gid !== undefined) fs.fchownSync(fd, meta.uid ?? -1, meta.gid ?? -1);
      fs.fchmodSync(fd, meta.mode);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Removes a file, link or empty directory. */
  remove(managed: string, kind: EntryKind): void {
    const host = this.hostPath(managed);
    if (kind === 'directory') {
      fs.rmdirSync(host);
      this.checkedDirs.delete(host);
    } else {
      fs.unlinkSync(host);
    }
    this.dirtyDirs.add(parentOf(host));
  }

  /** Removes temp files a killed earlier run left in these directories (managed paths). */
  removeStaleTemps(dirs: Iterable<string>): string[] {
    const removed: string[] = [];
    for (const dir of dirs) {
      if (!this.checkParents(`${dir}/x`) || this.entry(dir).kind !== 'directory') continue;
      for (const name of fs.readdirSync(this.hostPath(dir))) {
        if (!TEMP_FILE.test(name)) continue;
        fs.rmSync(`${this.hostPath(dir)}/${name}`, { force: true });
        removed.push(`${dir}/${name}`);
      }
    }
    return removed;
  }

  /** fsyncs every directory whose entries changed, once each. */
  flush(): void {
    for (const dir of this.dirtyDirs) {
      let fd: number;
      try {
        fd = fs.openSync(dir, O_RDONLY | O_DIRECTORY);
      } catch (err) {
        // removed again (a rollback): its parent is dirty too and gets the fsync
        if (errnoCode(err) === 'ENOENT') continue;
        throw err;
      }
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
    this.dirtyDirs.clear();
  }

  private renameIntoPlace(temp: string, host: string): void {
    try {
      fs.renameSync(temp, host);
    } catch (err) {
      fs.rmSync(temp, { force: true });
      throw err;
    }
    this.dirtyDirs.add(parentOf(host));
  }

  private openNoFollow(managed: string, flags: number): number {
    try {
      return fs.openSync(this.hostPath(managed), flags | O_NOFOLLOW);
    } catch (err) {
      if (errnoCode(err) === 'ELOOP') throw symlinkError(managed, managed);
      throw err;
    }
  }
}

function parentOf(host: string): string {
  const cut = host.lastIndexOf('/');
  return cut <= 0 ? '/' : host.slice(0, cut);
}

function tempPath(host: string): string {
  const cut = host.lastIndexOf('/');
  return `${host.slice(0, cut)}/.${host.slice(cut + 1)}.stems-${randomBytes(6).toString('hex')}.tmp`;
}

export function symlinkError(managed: string, link: string): StemsError {
  return new StemsError(
    'STEMS_APPLY_SYMLINK',
    link === managed ? `Refusing ${managed}: it is a symlink` : `Refusing ${managed}: its parent ${link} is a symlink`,
    {
      hint: 'stems never follows symlinks at managed paths. Replace the link with a real directory or file, or manage the path the link points to.',
      details: { path: managed, link },
    },
  );
}
