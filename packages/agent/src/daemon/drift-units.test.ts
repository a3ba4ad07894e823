import { generateKeyPair, type Resource, sha256Hex, writeKeyFile } from '@stems/shared';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nodeKeyPath } from '../identity/keys.js';
import { Outbox } from '../state/outbox.js';
import { AgentState } from '../state/store.js';
import { FakeSystemd } from '../system/_fake-systemd.js';
import { agentFixture, filesOnlyPayload, signed, silent } from './_test-fixtures.js';
import { Daemon } from './daemon.js';
import { loadEngine } from './engine-port.js';
import { unitStates } from './health.js';

// Units stopped by hand are drift only the full re-check can see (no file
// changes). This machine has no systemd as PID 1, so the engine's FakeSystemd
// stands in for systemctl here, driving the real daemon, drift loop and engine
// in-process; real units are covered by the nspawn multi-node tests.

const UNIT_TEXT = '[Service]\nExecStart=/bin/true\n';
const SHA = sha256Hex(UNIT_TEXT);

function unit(name: string, drift: 'enforce' | 'report'): Resource {
  return {
    type: 'unit',
    name,
    body: { sha256: SHA, render: false, name },
    enabled: true,
    state: 'started',
    id: `unit:${name}`,
    notify: [],
    drift,
    origin: 'role.yaml:9:1',
  };
}

const until = async (check: () => Promise<boolean>, what: string) => {
  const end = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('drift of units (FakeSystemd)', () => {
  it('a unit stopped by hand is drift (unit-state): enforce starts it again, report leaves it and reports once', async () => {
    // hub away (port 1); a full re-check every 200 ms
    const fx = await agentFixture({ intervals: { driftMs: 200, backoffMinMs: 50, backoffMaxMs: 200 } });
    onTestFinished(fx.cleanup);
    await writeKeyFile(nodeKeyPath(fx.stateDir), generateKeyPair());
    const base = filesOnlyPayload({ expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
    const payload = {
      ...base,
      resources: [...base.resources, unit('exporter.service', 'enforce'), unit('batch.service', 'report')],
      files: { ...base.files, [SHA]: { size: Buffer.byteLength(UNIT_TEXT), encoding: 'utf8' as const, data: UNIT_TEXT } },
    };
    const state = new AgentState(fx.stateDir);
    await state.acceptSerial(5);
    await state.writeBundle(signed(payload, fx.hub));
    const systemd = new FakeSystemd();
    const engine = await loadEngine({ root: fx.root, log: silent, systemd });
    const daemon = await Daemon.start({ config: fx.config, log: silent, agentVersion: 't', engine });
    onTestFinished(() => daemon.stop());
    await daemon.idle();
    expect(systemd.units.get('exporter.service')).toEqual({ enabled: true, active: true });
    expect(await unitStates(systemd, payload)).toEqual([
      { name: 'exporter.service', active: 'active' },
      { name: 'batch.service', active: 'active' },
    ]);

    // "systemctl stop" by a human, through the same interface the engine uses
    await systemd.stop('exporter.service');
    await systemd.stop('batch.service');
    expect(await unitStates(systemd, payload)).toEqual([
      { name: 'exporter.service', active: 'inactive' },
      { name: 'batch.service', active: 'inactive' },
    ]);
    const driftItems = async () => (await new Outbox(fx.stateDir).list()).flatMap((i) => (i.type === 'drift' ? i.payload.items : []));
    await until(async () => (await driftItems()).some((i) => i.id === 'unit:exporter.service' && i.status === 'repaired'), 'repair');
    await daemon.checkDrift(); // one more full check: nothing new
    expect(systemd.units.get('exporter.service')?.active).toBe(true);
    expect(systemd.units.get('batch.service')?.active).toBe(false); // report: left as found
    const items = (await driftItems()).map((i) => `${i.id} ${i.status} ${i.aspects.join(',')}`);
    expect(items.filter((i) => i.startsWith('unit:exporter.service'))).toEqual([
      'unit:exporter.service drifted unit-state',
      'unit:exporter.service repaired unit-state',
    ]);
    expect(items.filter((i) => i.startsWith('unit:batch.service'))).toEqual(['unit:batch.service drifted unit-state']);
  });

  it('health lists no units when systemd cannot be driven', async () => {
    const payload = { ...filesOnlyPayload(), resources: [unit('exporter.service', 'enforce')] };
    expect(await unitStates(new FakeSystemd(false), payload)).toEqual([]);
    expect(await unitStates(new FakeSystemd(), undefined)).toEqual([]);
  });
});
