import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type Facts, sha256Hex } from '@stems/shared';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { agentVersion } from '../cli/version.js';
import { factsHash } from '../facts/cache.js';
import { gatherFacts } from '../facts/gather.js';
import { FakeSystemd } from '../system/_fake-systemd.js';
import { realSystemd } from '../system/systemd.js';
import { agentFixture, filesOnlyPayload, silent } from './_test-fixtures.js';
import { loadEngine } from './engine-port.js';
import { sampleHealth, unitStates } from './health.js';

// The health heartbeat sampled on this machine: every field the drift/status
// issue lists (uptime, load, memory, disk usage of the mounted filesystems,
// managed units, agent version, last apply), checked against what the kernel
// and the usual tools say. Facts are gathered for real; the last apply is a
// real apply under a temp root. This machine has no systemd as PID 1, so the
// engine's FakeSystemd stands in for systemctl for the unit states.

const UNIT_TEXT = '[Service]\nExecStart=/bin/true\n';
const UNIT_SHA = sha256Hex(UNIT_TEXT);

/** A files-only payload plus one managed unit, metrics.service. */
function payloadWithUnit() {
  const base = filesOnlyPayload({ expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
  return {
    ...base,
    resources: [
      ...base.resources,
      {
        type: 'unit' as const,
        name: 'metrics.service',
        body: { sha256: UNIT_SHA, render: false, name: 'metrics.service' },
        enabled: true,
        state: 'started' as const,
        id: 'unit:metrics.service',
        notify: [],
        drift: 'enforce' as const,
        origin: 'role.yaml:9:1',
      },
    ],
    files: { ...base.files, [UNIT_SHA]: { size: Buffer.byteLength(UNIT_TEXT), encoding: 'utf8' as const, data: UNIT_TEXT } },
  };
}

const procUptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const procLoad1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
/** Used % of a filesystem as stat(1) reports its blocks (total, free). */
function statUsedPct(mount: string): number {
  const [blocks = 0, free = 0] = execFileSync('stat', ['-f', '-c', '%b %f', mount], { encoding: 'utf8' }).trim().split(' ').map(Number);
  return ((blocks - free) / blocks) * 100;
}
/** Used % of memory from /proc/meminfo (total minus available, as the sampler counts it). */
function meminfoUsedPct(): number {
  const kb = (key: string) => Number(readFileSync('/proc/meminfo', 'utf8').match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm'))?.[1]);
  return ((kb('MemTotal') - kb('MemAvailable')) / kb('MemTotal')) * 100;
}

describe('sampleHealth on this machine', () => {
  let facts: Facts;
  let mounts: string[] = [];

  beforeAll(async () => {
    // as the daemon does: the mounts to measure are the facts' filesystems
    facts = await gatherFacts({ factsDir: '/nonexistent-stems-facts.d', log: silent });
    mounts = facts.filesystems.map((f) => f.mount);
  });

  it('reports uptime, load, memory, disks, units, agent version and the last apply, all sane', async () => {
    const fx = await agentFixture();
    onTestFinished(fx.cleanup);
    const systemd = new FakeSystemd();
    const engine = await loadEngine({ root: fx.root, log: silent, systemd });
    const payload = payloadWithUnit();
    const report = await engine.apply(payload, facts, factsHash(facts));
    expect(report.status).toBe('changed');

    const now = new Date();
    const before = { uptime: procUptime(), load1: procLoad1() };
    const sample = await sampleHealth({
      mounts,
      agentVersion: agentVersion(),
      lastReport: report,
      stale: false,
      now,
      units: await unitStates(engine.systemd, payload),
      intervalMs: 15_000,
    });
    const after = { uptime: procUptime(), load1: procLoad1() };

    expect(sample.at).toBe(now.toISOString());
    // uptime: whole seconds of /proc/uptime, read around the sample
    expect(sample.uptimeSec).toBeGreaterThan(0);
    expect(sample.uptimeSec).toBeGreaterThanOrEqual(Math.floor(before.uptime));
    expect(sample.uptimeSec).toBeLessThanOrEqual(Math.ceil(after.uptime));
    // load: the kernel's 1/5/15 minute averages, rounded to 2 decimals
    expect(sample.load1).toBeGreaterThanOrEqual(Math.min(before.load1, after.load1) - 0.01);
    expect(sample.load1).toBeLessThanOrEqual(Math.max(before.load1, after.load1) + 0.01);
    for (const load of [sample.load1, sample.load5, sample.load15]) {
      expect(load).toBeGreaterThanOrEqual(0);
      expect(Math.round(load * 100)).toBeCloseTo(load * 100, 6); // 2 decimals
    }
    expect(Math.abs(sample.load15 - (loadavg()[2] ?? -1))).toBeLessThan(0.5);
    // memory: in use, a percentage close to /proc/meminfo's (the machine is busy: 5 points of slack)
    expect(sample.memUsedPct).toBeGreaterThan(0);
    expect(sample.memUsedPct).toBeLessThanOrEqual(100);
    expect(Math.abs(sample.memUsedPct - meminfoUsedPct())).toBeLessThan(5);
    // disks: every mounted filesystem from the facts, the root fs among them, close to stat -f
    expect(mounts).toContain('/');
    expect(sample.disks.map((d) => d.mount)).toEqual(mounts);
    const root = sample.disks.find((d) => d.mount === '/');
    expect(root?.usedPct).toBeGreaterThan(0);
    expect(root?.usedPct).toBeLessThanOrEqual(100);
    expect(Math.abs((root?.usedPct ?? -1) - statUsedPct('/'))).toBeLessThan(0.5);
    // managed units: the unit the apply started
    expect(sample.units).toEqual([{ name: 'metrics.service', active: 'active' }]);
    // agent version: the package's own
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(sample.agentVersion).toBe(pkg.version);
    expect(sample.agentVersion).toMatch(/^\d+\.\d+\.\d+/);
    // last apply: that apply's serial, status and start
    expect(sample.lastApply).toEqual({ serial: 5, status: 'changed', at: report.startedAt });
    expect(sample.stale).toBe(false);
    expect(sample.intervalMs).toBe(15_000);
  });

  it('unit states follow the units (inactive once stopped), and are empty without a systemd to ask', async () => {
    const systemd = new FakeSystemd();
    const payload = payloadWithUnit();
    await systemd.start('metrics.service');
    expect(await unitStates(systemd, payload)).toEqual([{ name: 'metrics.service', active: 'active' }]);
    await systemd.stop('metrics.service');
    expect(await unitStates(systemd, payload)).toEqual([{ name: 'metrics.service', active: 'inactive' }]);
    // under a root prefix systemctl would ask the host, not the managed tree
    expect(await unitStates(realSystemd({ root: '/tmp/stems-root' }), payload)).toEqual([]);
    expect(await unitStates(new FakeSystemd(false), payload)).toEqual([]);
  });

  it('no apply yet: lastApply is null; a mount gone since the facts is left out, not an error', async () => {
    const sample = await sampleHealth({
      mounts: ['/', '/no/such/mount/stems-test'],
      agentVersion: agentVersion(),
      lastReport: undefined,
      stale: true,
      now: new Date(),
      units: [],
      intervalMs: 1000,
    });
    expect(sample.lastApply).toBeNull();
    expect(sample.stale).toBe(true);
    expect(sample.disks.map((d) => d.mount)).toEqual(['/']);
  });
});
