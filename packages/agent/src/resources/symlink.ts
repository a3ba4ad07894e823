import { StemsError, type SymlinkResource } from '@stems/shared';
import type { Entry } from '../system/safe-fs.js';
import { removeIfEmptyDir, removeIfFile, restoreFile } from './file.js';
import type { Ctx, Handle, Step } from './types.js';

export interface SymlinkActual {
  entry: Entry;
  /** The current link text, when the path is a link. */
  target?: string | undefined;
  /** The current bytes, when a regular file stands where the link goes (kept for rollback). */
  bytes?: Buffer | undefined;
}

export function readSymlink(path: string, ctx: Ctx): SymlinkActual {
  const entry = ctx.fs.entry(path);
  if (entry.kind === 'symlink') return { entry, target: ctx.fs.readLink(path) };
  if (entry.kind === 'file') return { entry, bytes: ctx.fs.readFile(path) };
  return { entry };
}

/** Pure. The link text is written as given: it is read on the node, not under the agent's root. */
export function planSymlink(path: string, target: string, actual: SymlinkActual): Step | undefined {
  const { entry } = actual;
  if (entry.kind === 'missing') return { action: 'create', changes: [`created → ${target}`], aspects: ['exists'] };
  if (entry.kind === 'symlink') {
    if (actual.target === target) return undefined;
    return { action: 'update', changes: [`target ${actual.target} → ${target}`], aspects: ['target'] };
  }
  if (entry.kind === 'file') return { action: 'update', changes: [`file replaced by link → ${target}`], aspects: ['type'] };
  const error = new StemsError('STEMS_APPLY_FAILED', `Cannot make link ${path}: a ${entry.kind} is in the way`, {
    hint: 'stems does not replace directories with links; remove it first.',
    details: { path, kind: entry.kind },
  });
  return { action: 'update', changes: [`${entry.kind} in the way`], aspects: ['type'], error };
}

export function applySymlink(resource: SymlinkResource, actual: SymlinkActual, ctx: Ctx): void {
  const { fs, journal } = ctx;
  const { path, id } = resource;
  const { entry } = actual;
  const oldTarget = actual.target;
  const oldBytes = actual.bytes;
  fs.ensureParents(path, (dir) => journal?.record(id, () => removeIfEmptyDir(ctx, dir)));
  if (entry.kind === 'missing') journal?.record(id, () => removeIfFile(ctx, path));
  else if (oldTarget !== undefined) journal?.record(id, () => fs.symlink(path, oldTarget));
  else if (oldBytes) {
    const meta = { mode: entry.mode, uid: entry.uid, gid: entry.gid };
    journal?.record(id, () => restoreFile(ctx, path, oldBytes, meta), oldBytes.length);
  }
  fs.symlink(path, resource.target);
}

export async function examineSymlink(resource: SymlinkResource, ctx: Ctx): Promise<Handle> {
  const actual = readSymlink(resource.path, ctx);
  return {
    step: planSymlink(resource.path, resource.target, actual),
    apply: async () => {
      applySymlink(resource, actual, ctx);
      return [];
    },
  };
}
