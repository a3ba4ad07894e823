import { type AbsentResource, StemsError } from '@stems/shared';
import type { Entry } from '../system/safe-fs.js';
import { restoreFile } from './file.js';
import type { Ctx, Handle, Step } from './types.js';

export interface AbsentActual {
  entry: Entry;
  target?: string | undefined;
  bytes?: Buffer | undefined;
  /** For a directory: whether it has entries (stems removes only empty ones). */
  empty?: boolean | undefined;
}

export function readAbsent(path: string, ctx: Ctx): AbsentActual {
  const entry = ctx.fs.entry(path);
  if (entry.kind === 'symlink') return { entry, target: ctx.fs.readLink(path) };
  if (entry.kind === 'file') return { entry, bytes: ctx.fs.readFile(path) };
  if (entry.kind === 'directory') return { entry, empty: ctx.fs.isEmptyDir(path) };
  return { entry };
}

/** Pure. A link at the path is removed itself (never what it points to). */
export function planAbsent(path: string, actual: AbsentActual): Step | undefined {
  const { kind } = actual.entry;
  if (kind === 'missing') return undefined;
  const step: Step = { action: 'delete', changes: [`removed ${kind}`], aspects: ['exists'] };
  if (kind === 'other' || (kind === 'directory' && !actual.empty)) {
    step.error = new StemsError(
      'STEMS_APPLY_FAILED',
      `Cannot remove ${path}: ${kind === 'other' ? 'it is not a file, link or directory' : 'the directory is not empty'}`,
      {
        hint: 'stems removes files, links and empty directories only, so that every removal can be rolled back. List the entries inside as absent resources first.',
        details: { path },
      },
    );
  }
  return step;
}

export function applyAbsent(resource: AbsentResource, actual: AbsentActual, ctx: Ctx): void {
  const { fs, journal } = ctx;
  const { path, id } = resource;
  const { entry } = actual;
  const meta = { mode: entry.mode, uid: entry.uid, gid: entry.gid };
  const { target, bytes } = actual;
  if (target !== undefined) journal?.record(id, () => fs.symlink(path, target));
  else if (bytes) journal?.record(id, () => restoreFile(ctx, path, bytes, meta), bytes.length);
  else if (entry.kind === 'directory') journal?.record(id, () => (fs.entry(path).kind === 'missing' ? fs.mkdir(path, meta) : undefined));
  fs.remove(path, entry.kind);
}

export async function examineAbsent(resource: AbsentResource, ctx: Ctx): Promise<Handle> {
  const actual = readAbsent(resource.path, ctx);
  return {
    step: planAbsent(resource.path, actual),
    apply: async () => {
      applyAbsent(resource, actual, ctx);
      return [];
    },
  };
}
