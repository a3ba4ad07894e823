import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { basename, resolve } from 'node:path';
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
  /** The temp file and the target, both named through their directory's descriptor. */
  temp: string;
  target: string;
  /** The directory (host path) whose entries the rename changes. */
  dir: string;
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

const TOKEN_BYTES = 6;
let tokens = Buffer.alloc(0);
let nextToken = 0;

/**
 * 12 random hex digits for a temp name. Drawn 256 at a time: each call into
 * OpenSSL's generator costs ~30 µs (it checks for a fork first), 30 ms of a
 * 1000-file first apply when each name made its own call.
 */
function tempToken(): string {
  if (nextToken >= tokens.length) {
    tokens = randomBytes(TOKEN_BYTES * 256);
    nextToken = 0;
  }
  nextToken += TOKEN_BYTES;
  return tokens.toString('hex', nextToken - TOKEN_BYTES, nextToken);
}

/** /proc/self/fd without the hop through the `self` link: every access pays for it. */
const FD_DIR = `/proc/${process.pid}/fd`;

/**
 * `name` inside the directory held open as `fd`. Node has no openat() or
 * renameat(); on Linux a path through /proc/<pid>/fd/N resolves from that very
 * directory, whatever its path names now.
 */
function inDir(fd: number, name: string): string {
  return `${FD_DIR}/${fd}/${name}`;
}

/**
 * Every filesystem access of the engine to managed paths. Paths given to it
 * are managed paths (absolute, normalized, checked by the bundle schema);
 * it maps them under the root and never follows a symlink at a managed path
 * or in its parents below the root. Each parent is opened once with
 * O_NOFOLLOW|O_DIRECTORY from its own parent's descriptor and held until
 * close(), and every access goes through its parent's descriptor: a parent a
 * local user swaps for a link after it was opened is never followed
 * (test/security/agent-writes.test.ts). Synchronous on purpose: the no-op
 * path of a 1000-file bundle is a few thousand tiny syscalls, and a
 * thread-pool hop per syscall would cost more than the syscalls.
 */
export class SafeFs {
  readonly root: string;
  /** Real directories from the root down (host path → descriptor), held until close(). */
  private readonly dirs = new Map<string, number>();
  /** Managed path → its path through the parent's descriptor, for paths whose parents are held. */
  private readonly paths = new Map<string, string>();
  /** Directories whose entries changed: fsynced once each by flush(). */
  private readonly dirtyDirs = new Set<string>();

  constructor(root: string) {
    this.root = normalizeRoot(root);
  }

  hostPath(managed: string): string {
    return this.root + managed;
  }

  /**
   * Opens the parents of a managed path below the root. Refuses a symlink
   * (STEMS_APPLY_SYMLINK) or a non-directory; returns false when a parent is
   * missing (then the path is missing too).
   */
  checkParents(managed: string): boolean {
    return this.parentFd(managed) !== undefined;
  }

  /** lstat of a managed path through its parent; never follows a link. */
  entry(managed: string): Entry {
    const path = this.at(managed);
    if (path === undefined) return MISSING;
    // no exception for a missing path: a first apply asks about a thousand, and an Error costs more than the lstat
    const stat = fs.lstatSync(path, { throwIfNoEntry: false });
    if (stat === undefined) return MISSING;
    return { kind: kindOf(stat), mode: stat.mode & 0o7777, uid: stat.uid, gid: stat.gid, size: stat.size };
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
    return fs.readlinkSync(this.existingAt(managed));
  }

  isEmptyDir(managed: string): boolean {
    const dir = fs.opendirSync(this.existingAt(managed));
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
    fs.mkdirSync(this.existingAt(managed), { mode: 0o700 });
    this.setMeta(managed, meta);
    this.dirtyDirs.add(parentOf(this.hostPath(managed)));
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
    const { temp, target, dir } = this.tempBeside(managed);
    const fd = fs.openSync(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    const staged = { managed, temp, target, dir, fd };
    try {
      let offset = 0;
      while (offset < data.length) offset += fs.writeSync(fd, data, offset, data.length - offset);
      // chown first: changing the owner clears set-id bits that fchmod then sets.
      if (meta.uid !== undefined || meta.gid !== undefined) fs.fchownSync(fd, meta.uid ?? -1, meta.gid ?? -1);
      fs.fchmodSync(fd, meta.mode);
    } catch (err) {
      this.discard(staged);
      throw err;
    }
    return staged;
  }

  /** Closes a staged file that was fsynced and renames it over its target. */
  install(staged: Staged): void {
    fs.closeSync(staged.fd);
    this.renameIntoPlace(staged);
  }

  /** Closes and removes a staged file that will not be installed. */
  discard(staged: Staged): void {
    fs.closeSync(staged.fd);
    fs.rmSync(staged.temp, { force: true });
  }

  /** Atomic symlink replace: a temp link renamed over the path. */
  symlink(managed: string, target: string): void {
    const beside = this.tempBeside(managed);
    fs.symlinkSync(target, beside.temp);
    this.renameIntoPlace(beside);
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
    const path = this.existingAt(managed);
    const host = this.hostPath(managed);
    if (kind === 'directory') {
      fs.rmdirSync(path);
      this.forgetDir(host);
    } else {
      fs.unlinkSync(path);
    }
    this.dirtyDirs.add(parentOf(host));
  }

  /** Removes temp files a killed earlier run left in these directories (managed paths). */
  removeStaleTemps(dirs: Iterable<string>): string[] {
    const removed: string[] = [];
    for (const dir of dirs) {
      // the directory itself is the "parent" of an entry in it
      const fd = this.parentFd(`${dir}/x`);
      if (fd === undefined) continue;
      for (const name of fs.readdirSync(`${FD_DIR}/${fd}`)) {
        if (!TEMP_FILE.test(name)) continue;
        fs.rmSync(inDir(fd, name), { force: true });
        removed.push(`${dir}/${name}`);
      }
    }
    return removed;
  }

  /** fsyncs every directory whose entries changed, once each. */
  flush(): void {
    for (const dir of this.dirtyDirs) {
      const held = this.dirs.get(dir);
      if (held !== undefined) {
        fs.fsyncSync(held);
        continue;
      }
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

  /** Closes the directories held open. The engine calls it when an apply, plan or check ends. */
  close(): void {
    for (const fd of this.dirs.values()) fs.closeSync(fd);
    this.dirs.clear();
    this.paths.clear();
  }

  /** The managed path named through its parent's descriptor; undefined when a parent is missing. */
  private at(managed: string): string | undefined {
    const known = this.paths.get(managed);
    if (known !== undefined) return known;
    const fd = this.parentFd(managed);
    if (fd === undefined) return undefined;
    const path = inDir(fd, basename(managed));
    this.paths.set(managed, path);
    return path;
  }

  /** As at(), for operations on a path whose parents must exist: ENOENT otherwise. */
  private existingAt(managed: string): string {
    const path = this.at(managed);
    if (path === undefined) throw Object.assign(new Error(`ENOENT: a parent directory of ${managed} is missing`), { code: 'ENOENT' });
    return path;
  }

  /** A fresh temp name beside a managed path, and the path, both through their parent's descriptor. */
  private tempBeside(managed: string): { temp: string; target: string; dir: string } {
    const target = this.existingAt(managed);
    const cut = target.lastIndexOf('/');
    const temp = `${target.slice(0, cut)}/.${target.slice(cut + 1)}.stems-${tempToken()}.tmp`;
    return { temp, target, dir: parentOf(this.hostPath(managed)) };
  }

  /** The descriptor of a managed path's parent, opening the chain from the root as needed. */
  private parentFd(managed: string): number | undefined {
    const segments = managed.split('/');
    let host = this.root;
    let fd = this.dirs.get(host);
    if (fd === undefined) {
      // The root prefix is the operator's choice (--root): links in it are followed, as before.
      fd = fs.openSync(host === '' ? '/' : host, O_RDONLY | O_DIRECTORY);
      this.dirs.set(host, fd);
    }
    for (let i = 1; i < segments.length - 1; i++) {
      host += `/${segments[i]}`;
      let child = this.dirs.get(host);
      if (child === undefined) {
        child = this.openDir(fd, segments[i] as string, managed, host);
        if (child === undefined) return undefined;
        this.dirs.set(host, child);
      }
      fd = child;
    }
    return fd;
  }

  /** Opens a real directory inside `parent`: undefined when missing, an error for a link or anything else. */
  private openDir(parent: number, name: string, managed: string, host: string): number | undefined {
    try {
      return fs.openSync(inDir(parent, name), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') return undefined;
      const dir = host.slice(this.root.length);
      if (code === 'ELOOP' || (code === 'ENOTDIR' && this.isLink(inDir(parent, name)))) throw symlinkError(managed, dir);
      if (code === 'ENOTDIR') {
        throw new StemsError('STEMS_APPLY_FAILED', `Cannot manage ${managed}: ${dir} is not a directory`, {
          hint: 'Remove or move the file that stands where a parent directory should be.',
        });
      }
      throw err;
    }
  }

  private isLink(path: string): boolean {
    try {
      return fs.lstatSync(path).isSymbolicLink();
    } catch {
      return false;
    }
  }

  /** Closes a removed directory and everything held below it. */
  private forgetDir(host: string): void {
    this.paths.clear();
    for (const [dir, fd] of this.dirs) {
      if (dir !== host && !dir.startsWith(`${host}/`)) continue;
      fs.closeSync(fd);
      this.dirs.delete(dir);
    }
  }

  private renameIntoPlace(move: { temp: string; target: string; dir: string }): void {
    try {
      fs.renameSync(move.temp, move.target);
    } catch (err) {
      fs.rmSync(move.temp, { force: true });
      throw err;
    }
    this.dirtyDirs.add(move.dir);
  }

  private openNoFollow(managed: string, flags: number): number {
    try {
      return fs.openSync(this.existingAt(managed), flags | O_NOFOLLOW);
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
