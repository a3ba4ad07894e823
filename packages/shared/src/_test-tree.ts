import { lstat, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { errnoCode, StemsError } from './errors.js';
import type { RepoReader } from './repo/load.js';

export interface TestTree {
  /** The temp directory holding the tree. */
  dir: string;
  /** Reads repo-relative paths under `dir`, like the hub's reader of a commit. */
  reader: RepoReader;
  /** Removes the directory. */
  cleanup(): Promise<void>;
}

/** A RepoReader over a real directory: missing → undefined, symlink → STEMS_REPO_UNSAFE_ENTRY. */
export function dirReader(dir: string): RepoReader {
  const root = resolve(dir);
  return {
    async readFile(path: string): Promise<Uint8Array | undefined> {
      const full = resolve(root, path);
      if (!full.startsWith(root + sep)) throw new RangeError(`path leaves the tree: ${path}`);
      try {
        const stat = await lstat(full);
        if (stat.isSymbolicLink() || !stat.isFile()) {
          throw new StemsError('STEMS_REPO_UNSAFE_ENTRY', `${path} is not a regular file`);
        }
        return new Uint8Array(await readFile(full));
      } catch (err) {
        if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return undefined;
        throw err;
      }
    },
  };
}

/**
 * Writes an inline file tree (`{ 'roles/base/role.yaml': '…' }`) to a fresh
 * temp directory and returns it with a reader. Call `cleanup()` (e.g. in
 * `onTestFinished`) to remove it.
 */
export async function writeTree(files: Record<string, string>): Promise<TestTree> {
  const dir = await mkdtemp(join(tmpdir(), 'stems-tree-'));
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
  return { dir, reader: dirReader(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
}
