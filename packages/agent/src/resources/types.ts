import type { DriftAspect, Facts, RenderSource, StemsError } from '@stems/shared';
import type { Logger } from 'pino';
import type { Journal } from '../engine/journal.js';
import type { RenderedDigests } from '../engine/rendered.js';
import type { Accounts } from '../system/accounts.js';
import type { SafeFs } from '../system/safe-fs.js';
import type { Systemd } from '../system/systemd.js';
import type { WriteBatch } from '../system/write-batch.js';

export type Action = 'create' | 'update' | 'delete' | 'run' | 'restart' | 'start' | 'stop' | 'enable' | 'disable' | 'install' | 'remove';

/** What one resource would change: the output of a pure plan(). */
export interface Step {
  action: Action;
  /** In words: "created", "content", "mode 0600 → 0644". */
  changes: string[];
  /** Drift aspects that differ; [] for pure events (exec runs, notified restarts). */
  aspects: DriftAspect[];
  /** Unified diff of text content; never for sensitive files. */
  diff?: string;
  /** Found while planning: applying this step would fail (a symlink in the way, no systemd). */
  error?: StemsError;
  /** The step runs the exec or (re)starts the unit, which answers a notification. */
  refreshes?: boolean;
}

/** Everything a resource module may use; one per engine call. */
export interface Ctx {
  fs: SafeFs;
  accounts: Accounts;
  systemd: Systemd;
  /** systemd.available(), asked once per engine call. */
  systemdUp(): Promise<boolean>;
  /** Whether the root is the real root: packages and systemctl only then. */
  realRoot: boolean;
  source: RenderSource;
  facts: Facts | null;
  log: Logger;
  /** Present when changes must be undoable (policy onFailure: rollback). */
  journal: Journal | undefined;
  /** In an apply: file writes are staged here and committed together (see WriteBatch). */
  writes?: WriteBatch | undefined;
  /** Digests of what file resources render to, from an earlier run of the same bundle and facts. */
  rendered?: RenderedDigests | undefined;
}

/** A resource examined against the node: its step (undefined when converged) and how to apply it. */
export interface Handle {
  step: Step | undefined;
  /** Makes the step so; returns extra words for the report (exec output). Only called when step is set. */
  apply(): Promise<string[]>;
  /** Reads again after apply and plans what is left; absent: the engine examines the resource afresh. */
  recheck?(): Step | undefined;
}

export interface ExamineOptions {
  /** A changed resource notified this one and it has not refreshed yet in this apply. */
  notified: boolean;
}

export function formatMode(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

export function parseMode(mode: string | undefined, fallback: number): number {
  return mode === undefined ? fallback : Number.parseInt(mode, 8);
}

/** What mode/owner/group planning needs: the wanted metadata and what is on disk. */
export interface MetaWanted {
  mode: number;
  uid?: number | undefined;
  gid?: number | undefined;
  owner?: string | undefined;
  group?: string | undefined;
}
export interface MetaSeen {
  entry: { mode: number; uid: number; gid: number };
  ownerName: string;
  groupName: string;
}

/** Adds the mode, owner and group differences to a step (files and directories alike). */
export function planMeta(step: Step, desired: MetaWanted, actual: MetaSeen): void {
  const { entry } = actual;
  if (entry.mode !== desired.mode) {
    step.changes.push(`mode ${formatMode(entry.mode)} → ${formatMode(desired.mode)}`);
    step.aspects.push('mode');
  }
  if (desired.uid !== undefined && entry.uid !== desired.uid) {
    step.changes.push(`owner ${actual.ownerName} → ${desired.owner}`);
    step.aspects.push('owner');
  }
  if (desired.gid !== undefined && entry.gid !== desired.gid) {
    step.changes.push(`group ${actual.groupName} → ${desired.group}`);
    step.aspects.push('group');
  }
}
