import { existsSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isErrno } from './exec.js';

/**
 * With `--keep-unit` (needed because the host has no system bus), nspawn
 * creates `payload/` and `supervisor/` under its *own* cgroup, so two nodes
 * started from the same cgroup would share one payload cgroup. Each node's
 * nspawn therefore first moves into a cgroup of its own, in every hierarchy
 * that nspawn uses: the cgroup2 one (/sys/fs/cgroup on a pure-v2 host,
 * /sys/fs/cgroup/unified on a hybrid one) and the named systemd v1 hierarchy.
 */
const ROOTS = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd'];
const PARENT = 'stems-testbed';

export function nodeCgroupDirs(runId: string, name: string): string[] {
  return ROOTS.filter((root) => existsSync(join(root, 'cgroup.procs'))).map((root) => join(root, PARENT, `${runId}-${name}`));
}

export async function createCgroups(dirs: string[]): Promise<void> {
  for (const dir of dirs) await mkdir(dir, { recursive: true });
}

function removeTree(dir: string): void {
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  for (const child of entries) removeTree(join(dir, child));
  try {
    rmdirSync(dir);
  } catch (err) {
    // EBUSY: a process is still inside (reported by the teardown check); ENOENT: already gone.
    if (!isErrno(err, 'EBUSY') && !isErrno(err, 'ENOENT')) throw err;
  }
}

/** Removes a node's (empty) cgroups deepest first, then the shared parent when it is empty. */
export function removeCgroupsSync(dirs: string[]): void {
  for (const dir of dirs) {
    removeTree(dir);
    try {
      rmdirSync(join(dir, '..'));
    } catch (err) {
      // Other runs' nodes still live there, or it is gone already.
      if (!isErrno(err, 'ENOTEMPTY') && !isErrno(err, 'EBUSY') && !isErrno(err, 'ENOENT')) throw err;
    }
  }
}
