import fs from 'node:fs';
import { StemsError } from '@stems/shared';
import { describeExit, runArgv } from './run.js';

/** The systemctl operations the engine needs; units are names such as "node-exporter.service". */
export interface Systemd {
  /** Whether a systemd is running that this agent may drive (real root, systemd as PID 1). */
  available(): Promise<boolean>;
  daemonReload(): Promise<void>;
  isEnabled(unit: string): Promise<boolean>;
  isActive(unit: string): Promise<boolean>;
  enable(unit: string): Promise<void>;
  disable(unit: string): Promise<void>;
  start(unit: string): Promise<void>;
  stop(unit: string): Promise<void>;
  restart(unit: string): Promise<void>;
}

/** A systemctl call should never take this long; a hung start is a failure. @default 120000 ms */
const SYSTEMCTL_TIMEOUT_MS = 120_000;

export function noSystemdError(unit: string, why: string): StemsError {
  return new StemsError('STEMS_APPLY_NO_SYSTEMD', `Cannot manage unit ${unit}: ${why}`, {
    hint: 'Unit state (enabled, started, restarts) needs a running systemd on the real root. Under --root, or in a container without systemd, only the unit file is written.',
    details: { unit },
  });
}

/**
 * Drives the node's systemd with `systemctl`. Only when the root is the real
 * root and systemd runs (/run/systemd/system exists): under another root,
 * systemctl would act on the host, not on the managed tree.
 */
export function realSystemd(opts: { root?: string } = {}): Systemd {
  const realRoot = opts.root === undefined || opts.root === '' || opts.root === '/';
  let availability: boolean | undefined;
  const available = async () => {
    availability ??= realRoot && fs.existsSync('/run/systemd/system');
    return availability;
  };
  const why = () =>
    realRoot ? 'systemd is not running on this node (/run/systemd/system is missing)' : `the agent runs under root ${opts.root}`;

  async function systemctl(args: string[], unit: string): Promise<number | null> {
    if (!(await available())) throw noSystemdError(unit, why());
    const result = await runArgv(['systemctl', ...args], { timeoutMs: SYSTEMCTL_TIMEOUT_MS });
    if (result.timedOut) {
      throw new StemsError('STEMS_APPLY_UNIT_FAILED', `systemctl ${args.join(' ')} ${describeExit(result, SYSTEMCTL_TIMEOUT_MS)}`, {
        details: { unit, output: result.output },
      });
    }
    return result.code;
  }
  async function must(args: string[], unit: string): Promise<void> {
    const code = await systemctl(args, unit);
    if (code !== 0) {
      throw new StemsError('STEMS_APPLY_UNIT_FAILED', `systemctl ${args.join(' ')} failed (exit ${code})`, {
        hint: `See \`systemctl status ${unit}\` and \`journalctl -u ${unit}\`.`,
        details: { unit },
      });
    }
  }

  return {
    available,
    daemonReload: () => must(['daemon-reload'], 'daemon-reload'),
    isEnabled: async (unit) => (await systemctl(['is-enabled', '--quiet', unit], unit)) === 0,
    isActive: async (unit) => (await systemctl(['is-active', '--quiet', unit], unit)) === 0,
    enable: (unit) => must(['enable', unit], unit),
    disable: (unit) => must(['disable', unit], unit),
    start: (unit) => must(['start', unit], unit),
    stop: (unit) => must(['stop', unit], unit),
    restart: (unit) => must(['restart', unit], unit),
  };
}
