import fs from 'node:fs';
import type { Resource } from '@stems/shared';
import { describe, expect, it, onTestFinished } from 'vitest';
import { fileResource, payloadBuilder, resource, silentLog, TEST_FACTS, tempRoot, treeSnapshot } from '../engine/_test-payload.js';
import { applyBundle, planBundle } from '../engine/index.js';
import { FakeSystemd } from '../system/_fake-systemd.js';
import { realSystemd } from '../system/systemd.js';

const engine = (root: string, systemd: FakeSystemd) => ({ root, facts: TEST_FACTS, systemd, log: silentLog, factsHash: 'f' });
const UNIT_TEXT = '[Service]\nExecStart=/usr/bin/exporter --ip {{facts.primaryIp}}\n';

function unit(
  b: ReturnType<typeof payloadBuilder>,
  fields: { text?: string; enabled?: boolean; state?: 'started' | 'stopped'; notify?: string[] } = {},
): Resource {
  const { text, ...rest } = fields;
  return resource('unit', {
    id: 'unit:exporter.service',
    name: 'exporter.service',
    ...(text === undefined ? {} : { body: b.body(text, { render: true, name: 'exporter.service.hbs' }) }),
    ...rest,
  });
}

describe('unit resource', () => {
  it('writes the unit file, reloads, enables and starts; the second apply does nothing', async () => {
    const root = await tempRoot(onTestFinished);
    const systemd = new FakeSystemd();
    const b = payloadBuilder();
    const payload = b.payload([unit(b, { text: UNIT_TEXT, enabled: true, state: 'started' })]);
    const [planned] = await planBundle(payload, engine(root, systemd));
    expect(planned).toMatchObject({
      action: 'create',
      changes: ['unit file created', 'unit file mode 0644', 'daemon-reload', 'enabled', 'started'],
    });
    const report = await applyBundle(payload, engine(root, systemd));
    expect(report.resources[0]?.changes).toEqual(planned?.changes);
    expect(systemd.calls).toEqual(['daemon-reload', 'enable exporter.service', 'start exporter.service']);
    expect(fs.readFileSync(`${root}/etc/systemd/system/exporter.service`, 'utf8')).toContain('--ip 192.168.254.30');
    systemd.calls.length = 0;
    expect((await applyBundle(payload, engine(root, systemd))).status).toBe('converged');
    expect(systemd.calls).toEqual([]);
  });

  it('reloads and restarts a running unit when its unit file changes', async () => {
    const root = await tempRoot(onTestFinished);
    const systemd = new FakeSystemd();
    systemd.units.set('exporter.service', { enabled: true, active: true });
    fs.mkdirSync(`${root}/etc/systemd/system`, { recursive: true });
    fs.writeFileSync(`${root}/etc/systemd/system/exporter.service`, '[Service]\nExecStart=/bin/old\n');
    const b = payloadBuilder();
    const report = await applyBundle(b.payload([unit(b, { text: UNIT_TEXT, enabled: true, state: 'started' })]), engine(root, systemd));
    expect(report.resources[0]?.changes).toEqual(['unit file content', 'daemon-reload', 'restarted (unit file changed)']);
    expect(systemd.calls).toEqual(['daemon-reload', 'restart exporter.service']);
  });

  it('restarts a notified unit once, after its notifiers, whatever the declared order', async () => {
    const root = await tempRoot(onTestFinished);
    const systemd = new FakeSystemd();
    systemd.units.set('exporter.service', { enabled: true, active: true });
    const b = payloadBuilder();
    const notifyUnit = { notify: ['unit:exporter.service'] };
    const payload = b.payload([
      fileResource(b, '/etc/exporter/a.conf', 'a\n', notifyUnit),
      unit(b, { state: 'started' }),
      fileResource(b, '/etc/exporter/b.conf', 'b\n', notifyUnit),
      fileResource(b, '/etc/exporter/c.conf', 'c\n', notifyUnit),
    ]);
    const planned = await planBundle(payload, engine(root, systemd));
    expect(planned.map((p) => [p.id, p.action])).toEqual([
      ['file:/etc/exporter/a.conf', 'create'],
      ['unit:exporter.service', 'restart'],
      ['file:/etc/exporter/b.conf', 'create'],
      ['file:/etc/exporter/c.conf', 'create'],
    ]);
    const report = await applyBundle(payload, engine(root, systemd));
    expect(systemd.calls).toEqual(['restart exporter.service']);
    expect(report.resources[1]).toMatchObject({ outcome: 'changed', changes: ['restarted (notified)'] });
    // notifiers unchanged: no restart
    systemd.calls.length = 0;
    expect((await applyBundle(payload, engine(root, systemd))).status).toBe('converged');
    expect(systemd.calls).toEqual([]);
  });

  it('does not restart a notified unit that is meant to be stopped, nor one that it just started', async () => {
    const root = await tempRoot(onTestFinished);
    const systemd = new FakeSystemd();
    const b = payloadBuilder();
    await applyBundle(
      b.payload([fileResource(b, '/etc/e.conf', 'x', { notify: ['unit:exporter.service'] }), unit(b, { state: 'started' })]),
      engine(root, systemd),
    );
    expect(systemd.calls).toEqual(['start exporter.service']);
    systemd.calls.length = 0;
    systemd.units.set('exporter.service', { enabled: false, active: false });
    await applyBundle(
      b.payload([fileResource(b, '/etc/e.conf', 'y', { notify: ['unit:exporter.service'] }), unit(b)]),
      engine(root, systemd),
    );
    expect(systemd.calls).toEqual([]);
  });

  it('rolls back enable and start, the unit file and the daemon-reload when a later resource fails', async () => {
    const root = await tempRoot(onTestFinished);
    const systemd = new FakeSystemd();
    const before = treeSnapshot(root);
    const b = payloadBuilder();
    const failing = resource('exec', { id: 'boom', argv: ['false'], timeoutMs: 5000, refreshonly: false });
    const report = await applyBundle(
      b.payload([unit(b, { text: UNIT_TEXT, enabled: true, state: 'started' }), failing]),
      engine(root, systemd),
    );
    expect(report.status).toBe('rolled_back');
    expect(report.resources.map((r) => r.outcome)).toEqual(['rolled_back', 'failed']);
    expect(systemd.calls).toEqual([
      'daemon-reload',
      'enable exporter.service',
      'start exporter.service',
      'stop exporter.service',
      'disable exporter.service',
      'daemon-reload',
    ]);
    expect(systemd.units.get('exporter.service')).toEqual({ enabled: false, active: false });
    expect(treeSnapshot(root)).toEqual(before);
  });

  it('restores a stopped unit and the old unit file when systemctl itself fails', async () => {
    const root = await tempRoot(onTestFinished);
    const systemd = new FakeSystemd();
    systemd.units.set('exporter.service', { enabled: true, active: true });
    systemd.failing.add('restart exporter.service');
    fs.mkdirSync(`${root}/etc/systemd/system`, { recursive: true });
    fs.writeFileSync(`${root}/etc/systemd/system/exporter.service`, 'old\n');
    const before = treeSnapshot(root);
    const b = payloadBuilder();
    const report = await applyBundle(
      b.payload([
        unit(b, { text: UNIT_TEXT, state: 'started' }),
        fileResource(b, '/etc/e.conf', 'x', { notify: ['unit:exporter.service'] }),
      ]),
      engine(root, systemd),
    );
    expect(report.status).toBe('rolled_back');
    expect(report.resources[0]?.error?.code).toBe('STEMS_APPLY_UNIT_FAILED');
    expect(treeSnapshot(root)).toEqual(before);
    expect(systemd.units.get('exporter.service')).toEqual({ enabled: true, active: true });
  });

  it('fails with STEMS_APPLY_NO_SYSTEMD for unit state without systemd, but still writes a bare unit file', async () => {
    const root = await tempRoot(onTestFinished);
    const systemd = new FakeSystemd(false);
    const b = payloadBuilder();
    const needsState = await applyBundle(b.payload([unit(b, { text: UNIT_TEXT, enabled: true })]), engine(root, systemd));
    expect(needsState.resources[0]?.error?.code).toBe('STEMS_APPLY_NO_SYSTEMD');
    expect(fs.existsSync(`${root}/etc/systemd/system/exporter.service`)).toBe(false);
    const bare = await applyBundle(b.payload([unit(b, { text: UNIT_TEXT })]), engine(root, systemd));
    expect(bare.resources[0]?.changes).toContain('daemon-reload skipped: no running systemd');
    expect(fs.existsSync(`${root}/etc/systemd/system/exporter.service`)).toBe(true);
  });
});

describe('realSystemd', () => {
  it('is unavailable under a root prefix and refuses to act there', async () => {
    const systemd = realSystemd({ root: '/tmp/some-root' });
    expect(await systemd.available()).toBe(false);
    await expect(systemd.enable('x.service')).rejects.toMatchObject({ code: 'STEMS_APPLY_NO_SYSTEMD' });
  });

  it('on the real root, is available exactly when systemd runs', async () => {
    expect(await realSystemd().available()).toBe(fs.existsSync('/run/systemd/system'));
  });
});
