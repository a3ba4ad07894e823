import { renderBody, toStemsError, UNIT_DIR, type UnitResource } from '@stems/shared';
import { noSystemdError } from '../system/systemd.js';
import { applyFile, DEFAULT_FILE_MODE, type FileActual, type FileDesired, planFile, readFile } from './file.js';
import type { Ctx, ExamineOptions, Handle, Step } from './types.js';

export interface UnitDesired {
  name: string;
  /** The unit file, when the resource has a body. */
  file?: FileDesired | undefined;
  enabled?: boolean | undefined;
  state?: 'started' | 'stopped' | undefined;
  notified: boolean;
}

export interface UnitActual {
  file?: FileActual | undefined;
  /** Whether systemd can be driven; enabled/active are read only then. */
  up: boolean;
  enabled?: boolean | undefined;
  active?: boolean | undefined;
}

/** What a unit step does to systemd, in the order it does it. */
export interface UnitOps {
  writeFile: boolean;
  reload: boolean;
  enable?: boolean | undefined;
  run?: 'start' | 'stop' | 'restart' | undefined;
}

export function desiredUnit(resource: UnitResource, ctx: Ctx, options: ExamineOptions): UnitDesired {
  const file: FileDesired | undefined = resource.body && {
    path: `${UNIT_DIR}/${resource.name}`,
    bytes: renderBody(ctx.source, { body: resource.body, vars: resource.vars }, ctx.facts),
    mode: DEFAULT_FILE_MODE,
    sensitive: false,
  };
  return { name: resource.name, file, enabled: resource.enabled, state: resource.state, notified: options.notified };
}

export async function readUnit(desired: UnitDesired, ctx: Ctx): Promise<UnitActual> {
  const file = desired.file && readFile(desired.file.path, ctx);
  const up = await ctx.systemdUp();
  if (!up) return { file, up };
  const [enabled, active] = await Promise.all([ctx.systemd.isEnabled(desired.name), ctx.systemd.isActive(desired.name)]);
  return { file, up, enabled, active };
}

/** Pure: the unit file step, then daemon-reload, enable/disable, start/stop, or a restart when notified. */
export function planUnit(desired: UnitDesired, actual: UnitActual): { step: Step | undefined; ops: UnitOps } {
  const ops: UnitOps = { writeFile: false, reload: false };
  const changes: string[] = [];
  const step: Step = { action: 'update', changes, aspects: [] };
  const fileStep = desired.file && actual.file && planFile(desired.file, actual.file);
  if (fileStep) {
    if (fileStep.error) return { step: fileStep, ops };
    ops.writeFile = true;
    ops.reload = actual.up;
    changes.push(
      ...fileStep.changes.map((c) => `unit file ${c}`),
      actual.up ? 'daemon-reload' : 'daemon-reload skipped: no running systemd',
    );
    step.aspects.push(...fileStep.aspects);
    if (fileStep.diff !== undefined) step.diff = fileStep.diff;
  }
  const wantsSystemctl = desired.enabled !== undefined || desired.state !== undefined || desired.notified;
  if (wantsSystemctl && !actual.up) {
    step.error = noSystemdError(desired.name, 'no running systemd can be driven from this agent');
    changes.push('enabled/state not checked: no running systemd');
    return { step, ops };
  }
  if (desired.enabled !== undefined && actual.enabled !== desired.enabled) {
    ops.enable = desired.enabled;
    changes.push(desired.enabled ? 'enabled' : 'disabled');
    step.aspects.push('unit-enabled');
  }
  if (desired.state === 'started' && !actual.active) ops.run = 'start';
  else if (desired.state === 'stopped' && actual.active) ops.run = 'stop';
  else if (desired.notified && (desired.state === 'started' || (desired.state === undefined && actual.active))) ops.run = 'restart';
  // a running service keeps its old definition until it restarts
  else if (ops.writeFile && actual.active && desired.state !== 'stopped') ops.run = 'restart';
  if (ops.run) {
    const restart = desired.notified ? 'restarted (notified)' : 'restarted (unit file changed)';
    changes.push(ops.run === 'start' ? 'started' : ops.run === 'stop' ? 'stopped' : restart);
    if (ops.run !== 'restart') step.aspects.push('unit-state');
    step.refreshes = ops.run !== 'stop';
  }
  if (changes.length === 0) return { step: undefined, ops };
  // the most telling action leads: a new/changed unit file, then start/stop, then enable.
  step.action = fileStep ? fileStep.action : (ops.run ?? (ops.enable ? 'enable' : 'disable'));
  return { step, ops };
}

export async function applyUnit(
  resource: UnitResource,
  plan: { desired: UnitDesired; actual: UnitActual; ops: UnitOps },
  ctx: Ctx,
): Promise<void> {
  const { desired, actual, ops } = plan;
  const { systemd, journal } = ctx;
  const unit = desired.name;
  const was = { enabled: actual.enabled, active: actual.active };
  // Undo in two halves around the unit file's own undo (the journal runs
  // newest first): what this apply started or enabled is stopped/disabled
  // while its unit file is still there; then the old file comes back, and
  // only then systemd reloads and gets back what was stopped or disabled.
  journal?.record(resource.id, async () => {
    if (ops.writeFile && ops.reload) await systemd.daemonReload();
    if (ops.enable === false && was.enabled) await systemd.enable(unit);
    if (ops.run === 'stop' && was.active) await systemd.start(unit);
    if (ops.run === 'restart' && was.active) await systemd.restart(unit); // back to the old definition
  });
  if (ops.writeFile && desired.file && actual.file) {
    applyFile(resource.id, desired.file, actual.file, ctx);
    // the unit file must be in place before systemd reloads
    const committed = await ctx.writes?.commit();
    if (committed?.failedId !== undefined)
      throw toStemsError(committed.error ?? 'the unit file could not be written', 'STEMS_APPLY_FAILED');
  }
  journal?.record(resource.id, async () => {
    if ((ops.run === 'start' || ops.run === 'restart') && !was.active) await systemd.stop(unit);
    if (ops.enable === true && !was.enabled) await systemd.disable(unit);
  });
  if (ops.reload) await systemd.daemonReload();
  if (ops.enable !== undefined) await (ops.enable ? systemd.enable(unit) : systemd.disable(unit));
  if (ops.run) await systemd[ops.run](unit);
}

export async function examineUnit(resource: UnitResource, ctx: Ctx, options: ExamineOptions): Promise<Handle> {
  const desired = desiredUnit(resource, ctx, options);
  const actual = await readUnit(desired, ctx);
  const { step, ops } = planUnit(desired, actual);
  return {
    step,
    apply: async () => {
      await applyUnit(resource, { desired, actual, ops }, ctx);
      return [];
    },
  };
}
