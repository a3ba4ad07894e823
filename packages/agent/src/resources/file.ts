import { type FileResource, renderBody, StemsError } from '@stems/shared';
import type { Entry, Meta } from '../system/safe-fs.js';
import { symlinkError } from '../system/safe-fs.js';
import { textDiff } from './_text.js';
import { type Ctx, formatMode, type Handle, parseMode, planMeta, type Step } from './types.js';

/** Default mode of a managed file when the repo gives none. */
export const DEFAULT_FILE_MODE = 0o644;

export interface FileDesired {
  path: string;
  /** The content; a template renders on first use. */
  readonly bytes: Buffer;
  /**
   * Whether `actual` is the content, from the digest of an earlier render of
   * the same bundle (engine/rendered.ts); undefined when that is not known.
   */
  matches?(actual: Buffer): boolean | undefined;
  mode: number;
  /** undefined: owner not managed (kept as it is; a new file gets the agent's). */
  uid?: number | undefined;
  gid?: number | undefined;
  owner?: string | undefined;
  group?: string | undefined;
  sensitive: boolean;
}

export interface FileActual {
  entry: Entry;
  /** Present when the path is a regular file. */
  bytes?: Buffer | undefined;
  ownerName: string;
  groupName: string;
}

export function desiredFile(resource: FileResource, ctx: Ctx): FileDesired {
  const { rendered } = ctx;
  let bytes: Buffer | undefined;
  return {
    path: resource.path,
    get bytes() {
      if (bytes === undefined) {
        bytes = renderBody(ctx.source, resource, ctx.facts);
        rendered?.note(resource.id, bytes);
      }
      return bytes;
    },
    // Once rendered, planFile compares the bytes themselves.
    ...(rendered && { matches: (actual: Buffer) => (bytes === undefined ? rendered.matches(resource.id, actual) : undefined) }),
    mode: parseMode(resource.mode, DEFAULT_FILE_MODE),
    uid: resource.owner === undefined ? undefined : ctx.accounts.uid(resource.owner),
    gid: resource.group === undefined ? undefined : ctx.accounts.gid(resource.group),
    owner: resource.owner,
    group: resource.group,
    sensitive: resource.sensitive,
  };
}

/** Actual state: one lstat, and one read when it is a regular file. */
export function readFile(path: string, ctx: Ctx): FileActual {
  const entry = ctx.fs.entry(path);
  if (entry.kind === 'missing') return { entry, ownerName: '', groupName: '' };
  return {
    entry,
    bytes: entry.kind === 'file' ? ctx.fs.readFile(path) : undefined,
    ownerName: ctx.accounts.userName(entry.uid),
    groupName: ctx.accounts.groupName(entry.gid),
  };
}

/** What it takes to turn `actual` into `desired`; undefined when they match. Reads no disk; renders only when it must. */
export function planFile(desired: FileDesired, actual: FileActual): Step | undefined {
  const { entry } = actual;
  const diff = (old: Buffer | undefined) => (desired.sensitive ? {} : { diff: textDiff(old, desired.bytes, desired.path) });
  if (entry.kind === 'missing') {
    const changes = ['created', `mode ${formatMode(desired.mode)}`];
    if (desired.owner !== undefined) changes.push(`owner ${desired.owner}`);
    if (desired.group !== undefined) changes.push(`group ${desired.group}`);
    return { action: 'create', changes, aspects: ['exists'], ...diff(undefined) };
  }
  if (entry.kind === 'symlink') {
    return { action: 'update', changes: ['symlink in the way'], aspects: ['type'], error: symlinkError(desired.path, desired.path) };
  }
  if (entry.kind !== 'file' || actual.bytes === undefined) {
    const error = new StemsError('STEMS_APPLY_FAILED', `Cannot write file ${desired.path}: a ${entry.kind} is in the way`, {
      hint: 'Remove it (an absent resource declared earlier can do that), or manage it as what it is.',
      details: { path: desired.path, kind: entry.kind },
    });
    return { action: 'update', changes: [`${entry.kind} in the way`], aspects: ['type'], error };
  }
  const step: Step = { action: 'update', changes: [], aspects: [] };
  if (!(desired.matches?.(actual.bytes) ?? actual.bytes.equals(desired.bytes))) {
    step.changes.push('content');
    step.aspects.push('content');
    Object.assign(step, diff(actual.bytes));
  }
  planMeta(step, desired, actual);
  return step.changes.length === 0 ? undefined : step;
}

/**
 * The only writer of managed files. Registers the undo first (old bytes and
 * meta, or "did not exist"), creates missing parents (0755, undone too),
 * then replaces the file atomically or fixes mode/owner in place. In an
 * apply the change is staged in ctx.writes and lands when it commits.
 */
export function applyFile(id: string, desired: FileDesired, actual: FileActual, ctx: Ctx): void {
  const { fs, journal } = ctx;
  const { entry } = actual;
  const old = actual.bytes;
  // parents first: their undo (rmdir) must run after the file's undo
  fs.ensureParents(desired.path, (dir) => journal?.record(id, () => removeIfEmptyDir(ctx, dir)));
  if (journal) {
    if (entry.kind === 'missing') {
      journal.record(id, () => removeIfFile(ctx, desired.path));
    } else if (old) {
      const meta = { mode: entry.mode, uid: entry.uid, gid: entry.gid };
      journal.record(id, () => restoreFile(ctx, desired.path, old, meta), old.length);
    }
  }
  // An unmanaged owner stays what it was, even though the new inode is ours.
  const meta = {
    mode: desired.mode,
    uid: desired.uid ?? (entry.kind === 'file' ? entry.uid : undefined),
    gid: desired.gid ?? (entry.kind === 'file' ? entry.gid : undefined),
  };
  const { writes } = ctx;
  if (old?.equals(desired.bytes)) {
    if (writes) writes.setMeta(id, desired.path, meta);
    else fs.setMeta(desired.path, meta);
  } else if (writes) writes.write(id, desired.path, desired.bytes, meta);
  else fs.writeFile(desired.path, desired.bytes, meta);
}

/** Puts old bytes and meta back, touching nothing when they are still there (a change that never landed). */
export function restoreFile(ctx: Ctx, path: string, bytes: Buffer, meta: Meta): void {
  const now = ctx.fs.entry(path);
  const same = now.kind === 'file' && now.size === bytes.length && ctx.fs.readFile(path).equals(bytes);
  if (same && now.mode === meta.mode && now.uid === meta.uid && now.gid === meta.gid) return;
  if (same) ctx.fs.setMeta(path, meta);
  else ctx.fs.writeFile(path, bytes, meta);
}

export function removeIfFile(ctx: Ctx, path: string): void {
  const entry = ctx.fs.entry(path);
  if (entry.kind === 'file' || entry.kind === 'symlink') ctx.fs.remove(path, entry.kind);
}

export function removeIfEmptyDir(ctx: Ctx, path: string): void {
  const entry = ctx.fs.entry(path);
  if (entry.kind === 'directory' && ctx.fs.isEmptyDir(path)) ctx.fs.remove(path, 'directory');
}

export async function examineFile(resource: FileResource, ctx: Ctx): Promise<Handle> {
  const desired = desiredFile(resource, ctx);
  const actual = readFile(resource.path, ctx);
  return {
    step: planFile(desired, actual),
    apply: async () => {
      applyFile(resource.id, desired, actual, ctx);
      return [];
    },
    // the rendered bytes are already here: no second render
    recheck: () => planFile(desired, readFile(resource.path, ctx)),
  };
}
