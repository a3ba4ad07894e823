import { StemsError } from '@stems/shared';
import type { Systemd } from './systemd.js';

/**
 * A recording, in-memory Systemd for tests. It stands in because this
 * machine has no systemd as PID 1, so `systemctl` cannot run here; real
 * units are tested later in nspawn nodes. Everything else in the engine
 * tests is real (files, processes).
 */
export class FakeSystemd implements Systemd {
  /** Every call in order: "daemon-reload", "enable a.service", … */
  readonly calls: string[] = [];
  readonly units = new Map<string, { enabled: boolean; active: boolean }>();
  /** Calls that fail once (the next try succeeds), as "start a.service". */
  readonly failing = new Set<string>();

  constructor(private readonly isAvailable = true) {}

  async available(): Promise<boolean> {
    return this.isAvailable;
  }
  async daemonReload(): Promise<void> {
    this.record('daemon-reload');
  }
  async isEnabled(unit: string): Promise<boolean> {
    return this.unit(unit).enabled;
  }
  async isActive(unit: string): Promise<boolean> {
    return this.unit(unit).active;
  }
  async enable(unit: string): Promise<void> {
    this.record(`enable ${unit}`);
    this.unit(unit).enabled = true;
  }
  async disable(unit: string): Promise<void> {
    this.record(`disable ${unit}`);
    this.unit(unit).enabled = false;
  }
  async start(unit: string): Promise<void> {
    this.record(`start ${unit}`);
    this.unit(unit).active = true;
  }
  async stop(unit: string): Promise<void> {
    this.record(`stop ${unit}`);
    this.unit(unit).active = false;
  }
  async restart(unit: string): Promise<void> {
    this.record(`restart ${unit}`);
    this.unit(unit).active = true;
  }

  private unit(name: string): { enabled: boolean; active: boolean } {
    let unit = this.units.get(name);
    if (!unit) {
      unit = { enabled: false, active: false };
      this.units.set(name, unit);
    }
    return unit;
  }

  private record(call: string): void {
    if (this.failing.delete(call)) throw new StemsError('STEMS_APPLY_UNIT_FAILED', `systemctl ${call} failed (fake)`);
    this.calls.push(call);
  }
}
