import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoCode } from './errors.js';

export interface AtomicWriteOptions {
  /** File mode, set before the rename so the file is never visible wider. @default 0o600 */
  mode?: number;
  /** Create missing parent directories (mode 0700). @default false */
  mkdirs?: boolean;
  /**
   * fsync the file before the rename and the directory after it, so the new
   * content survives a crash. false for caches: still never half-written
   * under its name while the system runs, but after a crash the file may be
   * the old one or damaged, which a cache's reader must take as a miss; two
   * fsync waits saved. @default true
   */
  durable?: boolean;
}

/**
 * Writes a file so that a crash leaves the old content or the new, never half:
 * an O_EXCL|O_NOFOLLOW temp file in the same directory, fsync, rename over the
 * target, fsync the directory. Used for the hub's and agent's own state files;
 * caches pass `durable: false` and keep only the rename's guarantee.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const mode = options.mode ?? 0o600;
  const durable = options.durable ?? true;
  const handle = await openTemp(temp, mode, options.mkdirs === true);
  try {
    await handle.chmod(mode); // the umask may have narrowed or widened it
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  if (durable) await fsyncDir(dir);
}

const TEMP_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Opens a new temp file; its folder is made only when it is missing (a state file's folder almost always exists). */
async function openTemp(temp: string, mode: number, mkdirs: boolean): Promise<FileHandle> {
  try {
    return await open(temp, TEMP_FLAGS, mode);
  } catch (err) {
    if (!mkdirs || errnoCode(err) !== 'ENOENT') throw err;
  }
  await mkdir(dirname(temp), { recursive: true, mode: 0o700 });
  return open(temp, TEMP_FLAGS, mode);
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
