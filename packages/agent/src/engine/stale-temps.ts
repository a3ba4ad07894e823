import { type Resource, StemsError, UNIT_DIR } from '@stems/shared';
import type { Ctx } from '../resources/types.js';

/** Parent directories of the paths a bundle writes, where a killed run may have left temp files. */
function writtenDirs(resources: readonly Resource[]): Set<string> {
  const dirs = new Set<string>();
  for (const r of resources) {
    const path = r.type === 'file' || r.type === 'symlink' ? r.path : r.type === 'unit' && r.body ? `${UNIT_DIR}/${r.name}` : undefined;
    if (path !== undefined) dirs.add(path.slice(0, path.lastIndexOf('/')));
  }
  dirs.delete('');
  return dirs;
}

/**
 * Removes temp files (`.<name>.stems-<hex>.tmp`) an apply killed mid-write
 * left beside managed paths: one readdir per directory the bundle writes.
 */
export function removeStaleTemps(ctx: Ctx, resources: readonly Resource[]): void {
  for (const dir of writtenDirs(resources)) {
    try {
      const removed = ctx.fs.removeStaleTemps([dir]);
      if (removed.length > 0) ctx.log.warn({ removed }, 'removed temp files of an interrupted apply');
    } catch (err) {
      // a symlink or a file in the way: the resource itself reports it
      if (!(err instanceof StemsError)) throw err;
    }
  }
}
