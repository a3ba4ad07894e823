import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Everything observable about a directory tree: per entry its type, mode,
 * size, mtime and a hash of its content (or link target). Two equal snapshots
 * mean nothing was created, removed, rewritten or even touched.
 */
export async function snapshotTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    const full = join(dir, rel);
    const st = await lstat(full);
    let body = '';
    if (st.isFile())
      body = createHash('sha256')
        .update(await readFile(full))
        .digest('hex');
    else if (st.isSymbolicLink()) body = `-> ${await readlink(full)}`;
    const kind = st.isFile() ? 'f' : st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'o';
    out[rel || '.'] = `${kind} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs} ${body}`;
    if (st.isDirectory()) for (const name of (await readdir(full)).sort()) await walk(rel ? join(rel, name) : name);
  }
  try {
    await walk('');
  } catch (err) {
    // a state dir the agent has not created yet is a state too: "absent"
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT' && Object.keys(out).length === 0) return { '.': 'absent' };
    throw err;
  }
  return out;
}

/** Total bytes of regular files under dir. */
export async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const line of Object.values(await snapshotTree(dir))) if (line.startsWith('f ')) total += Number(line.split(' ')[2]);
  return total;
}

/** A small seeded PRNG (mulberry32): fuzz cases are the same on every run, so a failure reproduces. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
