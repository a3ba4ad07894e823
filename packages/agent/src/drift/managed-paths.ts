import { dirname } from 'node:path';
import { type BundlePayload, type Resource, UNIT_DIR } from '@stems/shared';

/** The on-disk path a resource manages (as written in the bundle, before the root prefix), if any. */
function managedPath(resource: Resource): string | undefined {
  switch (resource.type) {
    case 'file':
    case 'directory':
    case 'symlink':
    case 'absent':
      return resource.path;
    case 'unit':
      return resource.body ? `${UNIT_DIR}/${resource.name}` : undefined;
    case 'exec':
    case 'package':
      return undefined;
  }
}

/** One managed path under the root prefix and the resource that owns it. */
export interface WatchedPath {
  id: string;
  /** Absolute path on this machine (root prefix applied). */
  path: string;
}

/**
 * The managed paths of a bundle under a root prefix ('' = the real root).
 * Exec and package resources have no path: only the full re-check sees them.
 */
export function watchedPaths(payload: BundlePayload, root: string): WatchedPath[] {
  const out: WatchedPath[] = [];
  for (const resource of payload.resources) {
    const path = managedPath(resource);
    if (path !== undefined) out.push({ id: resource.id, path: `${root}${path}` });
  }
  return out;
}

/**
 * The directory to watch for a managed path: its parent. A watch on the file
 * itself would follow the inode and go deaf when an editor renames a new file
 * over it; the parent sees every create, rename, delete, write and chmod of
 * its entries.
 */
export function watchDirOf(path: string): string {
  return dirname(path);
}

/** Whether a change at `changed` can affect `managed`: the same path, or one of its ancestors (a parent renamed or deleted). */
export function affects(changed: string, managed: string): boolean {
  return managed === changed || managed.startsWith(changed.endsWith('/') ? changed : `${changed}/`);
}
