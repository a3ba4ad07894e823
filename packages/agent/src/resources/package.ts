import { type PackageResource, StemsError } from '@stems/shared';
import { describeExit, runArgv } from '../system/run.js';
import type { Ctx, Handle, Step } from './types.js';

/** apt can be slow on a busy mirror. @default 900000 ms */
const APT_TIMEOUT_MS = 900_000;
const DPKG_TIMEOUT_MS = 30_000;

export interface PackageActual {
  /** undefined when the package database cannot be read (not the real root). */
  installed?: boolean | undefined;
}

function needsRealRoot(name: string): StemsError {
  return new StemsError('STEMS_APPLY_PACKAGE_FAILED', `Cannot manage package ${name}: the agent runs under a root prefix`, {
    hint: 'Packages are installed with apt on the real root only; run the agent without --root to manage them.',
    details: { package: name },
  });
}

export async function readPackage(name: string, ctx: Ctx): Promise<PackageActual> {
  if (!ctx.realRoot) return {};
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a JS template
  const result = await runArgv(['dpkg-query', '-W', '-f=${db:Status-Abbrev}', name], { timeoutMs: DPKG_TIMEOUT_MS });
  // dpkg-query exits 1 for a package it has never heard of; "ii" means installed.
  return { installed: result.code === 0 && result.output.startsWith('ii') };
}

/** Pure. */
export function planPackage(name: string, state: 'present' | 'absent', actual: PackageActual): Step | undefined {
  if (actual.installed === undefined) {
    return {
      action: state === 'present' ? 'install' : 'remove',
      changes: ['package state unknown'],
      aspects: [],
      error: needsRealRoot(name),
    };
  }
  if ((state === 'present') === actual.installed) return undefined;
  return state === 'present'
    ? { action: 'install', changes: ['installed'], aspects: ['package'] }
    : { action: 'remove', changes: ['removed'], aspects: ['package'] };
}

async function apt(verb: 'install' | 'remove', name: string): Promise<void> {
  const result = await runArgv(['apt-get', verb, '-y', '-q', '--no-install-recommends', name], {
    timeoutMs: APT_TIMEOUT_MS,
    env: { DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.code !== 0 || result.timedOut) {
    throw new StemsError('STEMS_APPLY_PACKAGE_FAILED', `apt-get ${verb} ${name} failed: ${describeExit(result, APT_TIMEOUT_MS)}`, {
      hint: 'See the output in the report details; `apt-get update` may be needed on the node.',
      details: { package: name, output: result.output.slice(-1000) },
    });
  }
}

export async function examinePackage(resource: PackageResource, ctx: Ctx): Promise<Handle> {
  const actual = await readPackage(resource.name, ctx);
  return {
    step: planPackage(resource.name, resource.state, actual),
    apply: async () => {
      const verb = resource.state === 'present' ? 'install' : 'remove';
      // The undo is the reverse apt operation: best effort (it may need the network).
      ctx.journal?.record(resource.id, () => apt(verb === 'install' ? 'remove' : 'install', resource.name));
      await apt(verb, resource.name);
      return [];
    },
  };
}
