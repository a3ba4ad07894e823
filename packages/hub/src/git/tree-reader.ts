import fs from 'node:fs';
import { constants, inflateSync } from 'node:zlib';
import type { RepoReader } from '@stems/shared';
import { StemsError } from '@stems/shared';
import git, { type TreeEntry } from 'isomorphic-git';

/** Largest blob the hub reads from a commit. @default 16 MiB */
export const MAX_BLOB_BYTES = 16 * 1024 * 1024;

const MODE_SYMLINK = '120000';
const MODE_SUBMODULE = '160000';
const MODE_TREE = '040000';

export interface TreeReaderOptions {
  gitdir: string;
  commit: string;
  /** isomorphic-git's object cache, shared by every reader of one source so pack indexes load once. */
  cache: object;
}

/**
 * The size in a loose object's header (`blob <size>\0`), read by inflating
 * only its first compressed bytes (1 KiB holds the largest deflate block
 * header and then some). Undefined when the header cannot be read that way:
 * the size check after readBlob still applies.
 */
function looseObjectSize(deflated: Uint8Array): number | undefined {
  const head = inflateSync(deflated.subarray(0, 1024), { finishFlush: constants.Z_SYNC_FLUSH });
  const match = /^[a-z]+ (\d+)\0/.exec(head.subarray(0, 32).toString('latin1'));
  return match ? Number(match[1]) : undefined;
}

function unsafe(path: string, why: string): StemsError {
  return new StemsError('STEMS_REPO_UNSAFE_ENTRY', `${path} ${why}`, {
    hint: 'Commit the file itself: stems reads regular files from the commit and never follows symlinks or submodules.',
    details: { file: path },
  });
}

/**
 * A RepoReader over one commit's tree: files come from git objects, never from
 * a working copy, so what is validated is exactly what was committed. A
 * symlink, submodule or directory where a file is read, or a blob over
 * MAX_BLOB_BYTES, is STEMS_REPO_UNSAFE_ENTRY.
 */
export function treeReader(options: TreeReaderOptions): RepoReader {
  const { gitdir, commit, cache } = options;
  // Trees by directory path ("" is the root); roles share directories, so each is read once.
  const trees = new Map<string, Promise<TreeEntry[] | undefined>>();

  function treeAt(dir: string): Promise<TreeEntry[] | undefined> {
    let found = trees.get(dir);
    if (!found) {
      found = listDir(dir);
      trees.set(dir, found);
    }
    return found;
  }

  async function listDir(dir: string): Promise<TreeEntry[] | undefined> {
    if (dir === '') return (await git.readTree({ fs, gitdir, oid: commit, cache })).tree;
    const cut = dir.lastIndexOf('/');
    const parent = await treeAt(cut < 0 ? '' : dir.slice(0, cut));
    const entry = parent?.find((e) => e.path === dir.slice(cut + 1));
    if (!entry) return undefined;
    if (entry.mode === MODE_SYMLINK) throw unsafe(dir, 'is a symlink in the commit; a directory was expected');
    if (entry.mode === MODE_SUBMODULE) throw unsafe(dir, 'is a submodule; a directory was expected');
    if (entry.mode !== MODE_TREE) return undefined;
    return (await git.readTree({ fs, gitdir, oid: entry.oid, cache })).tree;
  }

  return {
    async readFile(path: string): Promise<Uint8Array | undefined> {
      const segments = path.split('/');
      if (path.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..')) {
        throw new RangeError(`not a normalized repo-relative path: ${path}`);
      }
      const cut = path.lastIndexOf('/');
      const dir = await treeAt(cut < 0 ? '' : path.slice(0, cut));
      const entry = dir?.find((e) => e.path === path.slice(cut + 1));
      if (!entry) return undefined;
      if (entry.mode === MODE_SYMLINK) throw unsafe(path, 'is a symlink in the commit; a regular file was expected');
      if (entry.mode === MODE_SUBMODULE) throw unsafe(path, 'is a submodule; a regular file was expected');
      if (entry.type !== 'blob') throw unsafe(path, 'is a directory; a regular file was expected');
      // A loose object says its size in its first bytes: refuse a huge blob before inflating it.
      const raw = await git.readObject({ fs, gitdir, oid: entry.oid, format: 'deflated', cache });
      if (raw.format === 'deflated' && (looseObjectSize(raw.object) ?? 0) > MAX_BLOB_BYTES) {
        throw unsafe(path, `is larger than ${MAX_BLOB_BYTES} bytes`);
      }
      const { blob } = await git.readBlob({ fs, gitdir, oid: entry.oid, cache });
      if (blob.byteLength > MAX_BLOB_BYTES) throw unsafe(path, `is larger than ${MAX_BLOB_BYTES} bytes`);
      return blob;
    },
  };
}
