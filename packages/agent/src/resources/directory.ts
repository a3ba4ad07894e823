import { type DirectoryResource, StemsError } from '@stems/shared';
import type { Entry } from '../system/safe-fs.js';
import { symlinkError } from '../system/safe-fs.js';
import { removeIfEmptyDir } from './file.js';
import { type Ctx, formatMode, type Handle, parseMode, planMeta, type Step } from './types.js';

/** Default mode of a managed directory when the repo gives none. */
export const DEFAULT_DIR_MODE = 0o755;

export interface DirectoryDesired {
  path: string;
  mode: number;
  uid?: number | undefined;
  gid?: number | undefined;
  owner?: string | undefined;
  group?: string | undefined;
}

export interface DirectoryActual {
  entry: Entry;
  ownerName: string;
  groupName: string;
}

export function readDirectory(path: string, ctx: Ctx): DirectoryActual {
  const entry = ctx.fs.entry(path);
  if (entry.kind === 'missing') return { entry, ownerName: '', groupName: '' };
  return { entry, ownerName: ctx.accounts.userName(entry.uid), groupName: ctx.accounts.groupName(entry.gid) };
}

/** Pure. */
export function planDirectory(desired: DirectoryDesired, actual: DirectoryActual): Step | undefined {
  const { entry } = actual;
  if (entry.kind === 'missing') {
    const changes = ['created', `mode ${formatMode(desired.mode)}`];
    if (desired.owner !== undefined) changes.push(`owner ${desired.owner}`);
    if (desired.group !== undefined) changes.push(`group ${desired.group}`);
    return { action: 'create', changes, aspects: ['exists'] };
  }
  if (entry.kind === 'symlink') {
    return { action: 'update', changes: ['symlink in the way'], aspects: ['type'], error: symlinkError(desired.path, desired.path) };
  }
  if (entry.kind !== 'directory') {
    const error = new StemsError('STEMS_APPLY_FAILED', `Cannot make directory ${desired.path}: a ${entry.kind} is in the way`, {
      hint: 'Remove it first (an absent resource declared earlier can do that).',
      details: { path: desired.path, kind: entry.kind },
    });
    return { action: 'update', changes: [`${entry.kind} in the way`], aspects: ['type'], error };
  }
  const step: Step = { action: 'update', changes: [], aspects: [] };
  planMeta(step, desired, actual);
  return step.changes.length === 0 ? undefined : step;
}

export function applyDirectory(id: string, desired: DirectoryDesired, actual: DirectoryActual, ctx: Ctx): void {
  const { fs, journal } = ctx;
  const { entry } = actual;
  const meta = { mode: desired.mode, uid: desired.uid, gid: desired.gid };
  if (entry.kind === 'missing') {
    fs.ensureParents(desired.path, (dir) => journal?.record(id, () => removeIfEmptyDir(ctx, dir)));
    journal?.record(id, () => removeIfEmptyDir(ctx, desired.path));
    fs.mkdir(desired.path, meta);
    return;
  }
  const old = { mode: entry.mode, uid: entry.uid, gid: entry.gid };
  journal?.record(id, () => fs.setMeta(desired.path, old));
  fs.setMeta(desired.path, meta);
}

export async function examineDirectory(resource: DirectoryResource, ctx: Ctx): Promise<Handle> {
  const desired: DirectoryDesired = {
    path: resource.path,
    mode: parseMode(resource.mode, DEFAULT_DIR_MODE),
    uid: resource.owner === undefined ? undefined : ctx.accounts.uid(resource.owner),
    gid: resource.group === undefined ? undefined : ctx.accounts.gid(resource.group),
    owner: resource.owner,
    group: resource.group,
  };
  const actual = readDirectory(resource.path, ctx);
  return {
    step: planDirectory(desired, actual),
    apply: async () => {
      applyDirectory(resource.id, desired, actual, ctx);
      return [];
    },
  };
}
