import fs from 'node:fs';
import { BundlePayload, type Resource } from '@stems/shared';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FakeSystemd } from '../system/_fake-systemd.js';
import {
  fileResource,
  type PayloadBuilder,
  payloadBuilder,
  resource,
  silentLog,
  TEST_FACTS,
  tempRoot,
  treeSnapshot,
} from './_test-payload.js';
import { applyBundle, checkResources, planBundle } from './index.js';

const engine = (root: string, systemd = new FakeSystemd()) => ({ root, facts: TEST_FACTS, systemd, log: silentLog, factsHash: 'f' });

/** A tree with something of every kind for a bundle to change. */
function seed(root: string): void {
  fs.mkdirSync(`${root}/etc/app`, { recursive: true });
  fs.writeFileSync(`${root}/etc/motd`, 'old motd\n');
  fs.writeFileSync(`${root}/etc/app/app.conf`, 'port=1\n', { mode: 0o600 });
  fs.chmodSync(`${root}/etc/app/app.conf`, 0o600);
  fs.writeFileSync(`${root}/etc/old.conf`, 'remove me\n');
  fs.symlinkSync('/etc/app/v0', `${root}/etc/app/current`);
  fs.mkdirSync(`${root}/srv/data`, { recursive: true, mode: 0o700 });
  fs.chmodSync(`${root}/srv/data`, 0o700);
}

/** Ten resources of every type; the 7th (index 6) is `seventh`. */
function mixed(b: PayloadBuilder, seventh: Resource, policy: BundlePayload['policy'] = { onFailure: 'rollback' }): BundlePayload {
  return b.payload(
    [
      fileResource(b, '/etc/motd', 'Welcome to {{node.name}}.{{vars.domain}}\n', { render: true }),
      fileResource(b, '/etc/app/app.conf', 'port={{vars.swappiness}}\n', {
        render: true,
        mode: '0640',
        owner: 'daemon',
        notify: ['unit:app.service'],
      }),
      resource('directory', { id: 'directory:/srv/data', path: '/srv/data', mode: '0750' }),
      resource('symlink', { id: 'symlink:/etc/app/current', path: '/etc/app/current', target: '/etc/app/v1' }),
      resource('absent', { id: 'absent:/etc/old.conf', path: '/etc/old.conf' }),
      resource('unit', {
        id: 'unit:app.service',
        name: 'app.service',
        body: b.body('[Service]\nExecStart=/bin/true\n'),
        enabled: true,
        state: 'started',
      }),
      seventh,
      fileResource(b, '/etc/new/deep/file.conf', 'new\n'),
      resource('directory', { id: 'directory:/srv/new', path: '/srv/new' }),
      fileResource(b, '/etc/last', 'last\n'),
    ],
    { policy },
  );
}

const okSeventh = (root: string) =>
  resource('exec', { id: 'mark', argv: ['touch', `${root}/marker`], creates: '/marker', timeoutMs: 5000, refreshonly: false });
const failingSeventh = resource('exec', { id: 'boom', argv: ['sh', '-c', 'exit 7'], timeoutMs: 5000, refreshonly: false });

describe('applyBundle', () => {
  it('plans exactly what it applies, resource by resource, and the second apply converges with zero changes', async () => {
    const root = await tempRoot(onTestFinished);
    seed(root);
    const b = payloadBuilder();
    const payload = mixed(b, okSeventh(root));
    const systemd = new FakeSystemd();
    const plan = await planBundle(payload, engine(root, systemd));
    const report = await applyBundle(payload, engine(root, systemd));
    expect(report.status).toBe('changed');
    const changed = report.resources.filter((r) => r.outcome === 'changed');
    expect(changed.map((r) => r.id)).toEqual(plan.map((p) => p.id));
    for (const p of plan) {
      const r = report.resources.find((x) => x.id === p.id);
      expect(r?.changes.slice(0, p.changes.length)).toEqual(p.changes);
      expect(r?.diff).toEqual(p.diff);
    }
    // the notified unit is started by its own step, which answers the notification: no extra restart
    expect(systemd.calls).toEqual(['daemon-reload', 'enable app.service', 'start app.service']);
    expect(report.resources.every((r) => r.outcome === 'changed')).toBe(true);

    systemd.calls.length = 0;
    const again = await applyBundle(payload, engine(root, systemd));
    expect(again.status).toBe('converged');
    expect(again.resources.every((r) => r.outcome === 'unchanged' && r.changes.length === 0)).toBe(true);
    expect(await planBundle(payload, engine(root, systemd))).toEqual([]);
    expect(systemd.calls).toEqual([]);
  });

  it('rolls back every change when the 7th resource fails: the tree is exactly as before', async () => {
    const root = await tempRoot(onTestFinished);
    seed(root);
    const before = treeSnapshot(root);
    const systemd = new FakeSystemd();
    const progress: string[] = [];
    const payload = mixed(payloadBuilder(), failingSeventh);
    const report = await applyBundle(payload, { ...engine(root, systemd), onProgress: (id) => progress.push(id) });
    expect(report.status).toBe('rolled_back');
    expect(report.error).toMatchObject({ code: 'STEMS_APPLY_ROLLED_BACK', details: { id: 'boom' } });
    expect(report.resources.map((r) => r.outcome)).toEqual([
      'rolled_back',
      'rolled_back',
      'rolled_back',
      'rolled_back',
      'rolled_back',
      'rolled_back',
      'failed',
      'skipped',
      'skipped',
      'skipped',
    ]);
    expect(report.resources[6]?.error).toMatchObject({ code: 'STEMS_APPLY_EXEC_FAILED', details: { code: 7 } });
    expect(progress).toEqual(payload.resources.slice(0, 7).map((r) => r.id));
    expect(treeSnapshot(root)).toEqual(before);
    expect(systemd.units.get('app.service')).toEqual({ enabled: false, active: false });
  });

  it('with onFailure stop, keeps what was applied before the failure and reports failed', async () => {
    const root = await tempRoot(onTestFinished);
    seed(root);
    const report = await applyBundle(mixed(payloadBuilder(), failingSeventh, { onFailure: 'stop' }), engine(root));
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'STEMS_APPLY_FAILED', details: { id: 'boom' } });
    expect(report.resources.map((r) => r.outcome).slice(5)).toEqual(['changed', 'failed', 'skipped', 'skipped', 'skipped']);
    expect(fs.readFileSync(`${root}/etc/motd`, 'utf8')).toBe('Welcome to director.colab.lan\n');
    expect(fs.existsSync(`${root}/etc/last`)).toBe(false);
  });

  it('reports an exec that ran before the failure as changed, not rolled back', async () => {
    const root = await tempRoot(onTestFinished);
    const b = payloadBuilder();
    const report = await applyBundle(
      b.payload([
        resource('exec', { id: 'ran', argv: ['true'], timeoutMs: 5000, refreshonly: false }),
        fileResource(b, '/etc/x', 'x', { owner: 'nobody-here' }),
      ]),
      engine(root),
    );
    expect(report.resources[0]).toMatchObject({
      outcome: 'changed',
      changes: expect.arrayContaining(['not undone: a command that ran cannot be rolled back']),
    });
  });

  it('skips resources whose `when` is false and fails a template with a missing variable', async () => {
    const root = await tempRoot(onTestFinished);
    const b = payloadBuilder();
    const report = await applyBundle(
      b.payload([
        fileResource(b, '/etc/gpu.conf', 'gpu\n', { when: 'facts.gpus' }),
        fileResource(b, '/etc/x64.conf', 'x64\n', { when: '(eq facts.os.arch "x64")' }),
        fileResource(b, '/etc/bad.conf', '{{vars.nope}}\n', { render: true }),
      ]),
      engine(root),
    );
    expect(report.resources.map((r) => r.outcome)).toEqual(['skipped', 'rolled_back', 'failed']);
    expect(report.resources[2]?.error?.code).toBe('STEMS_TEMPLATE_MISSING_VAR');
    expect(fs.existsSync(`${root}/etc`)).toBe(false);
  });
});

describe('the shared test bundle', () => {
  it('applies, notifies its refresh-only exec once, and then converges', async () => {
    const root = await tempRoot(onTestFinished);
    // shared's test helper is not exported and lies outside this package's rootDir,
    // so it is loaded at run time and parsed (which also checks it against the schema)
    const helper: { makeBundlePayload?: unknown } = await import(new URL('../../../shared/src/_test-bundle.ts', import.meta.url).href);
    if (typeof helper.makeBundlePayload !== 'function') throw new TypeError('makeBundlePayload is missing');
    const shared = BundlePayload.parse(helper.makeBundlePayload());
    // the fixture's exec is `sysctl --system`: swap in a harmless command that leaves a trace
    const payload = {
      ...shared,
      resources: shared.resources.map((r) => (r.type === 'exec' ? { ...r, argv: ['sh', '-c', `echo ran >> ${root}/ran`] } : r)),
    };
    const report = await applyBundle(payload, engine(root));
    expect(report.status).toBe('changed');
    expect(fs.readFileSync(`${root}/etc/motd`, 'utf8')).toBe('Welcome to projector (colab), swappiness 10\n');
    expect(fs.readFileSync(`${root}/ran`, 'utf8')).toBe('ran\n');
    expect((await applyBundle(payload, engine(root))).status).toBe('converged');
    expect(fs.readFileSync(`${root}/ran`, 'utf8')).toBe('ran\n');
  });
});

describe('applyBundle with many files (write batches)', () => {
  const many = (b: PayloadBuilder, failAt: number) =>
    Array.from({ length: 150 }, (_, i) =>
      fileResource(b, `/etc/many/d${i % 3}/f${i}`, `file ${i}\n`, i === failAt ? { owner: 'no-such-user' } : {}),
    );

  it('rolls back files committed in earlier batches when the 120th fails', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc/many/d0`, { recursive: true });
    fs.writeFileSync(`${root}/etc/many/d0/f0`, 'before\n');
    const before = treeSnapshot(root);
    const b = payloadBuilder();
    const report = await applyBundle(b.payload(many(b, 119)), engine(root));
    expect(report.status).toBe('rolled_back');
    expect(report.resources.filter((r) => r.outcome === 'rolled_back')).toHaveLength(119);
    expect(report.resources[119]?.error?.code).toBe('STEMS_APPLY_UNKNOWN_USER');
    expect(treeSnapshot(root)).toEqual(before);
  });

  it('with onFailure stop, every file before the failure is in place and none after', async () => {
    const root = await tempRoot(onTestFinished);
    const b = payloadBuilder();
    const report = await applyBundle(b.payload(many(b, 119), { policy: { onFailure: 'stop' } }), engine(root));
    expect(report.status).toBe('failed');
    expect(report.resources.filter((r) => r.outcome === 'changed')).toHaveLength(119);
    expect(fs.readFileSync(`${root}/etc/many/d1/f118`, 'utf8')).toBe('file 118\n');
    expect(fs.existsSync(`${root}/etc/many/d0/f120`)).toBe(false);
  });

  it('refuses a change before making it when its rollback copy would exceed the budget', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.writeFileSync(`${root}/etc/big`, Buffer.alloc(4096, 'a'));
    fs.writeFileSync(`${root}/etc/small`, 'old\n');
    const b = payloadBuilder();
    const report = await applyBundle(b.payload([fileResource(b, '/etc/small', 'new\n'), fileResource(b, '/etc/big', 'b')]), {
      ...engine(root),
      rollbackBudgetBytes: 1024,
    });
    expect(report.status).toBe('rolled_back');
    expect(report.resources[1]?.error?.message).toContain('Cannot keep a rollback copy for file:/etc/big');
    expect(fs.readFileSync(`${root}/etc/small`, 'utf8')).toBe('old\n');
    expect(fs.statSync(`${root}/etc/big`).size).toBe(4096);
  });
});

describe('checkResources', () => {
  it('lists per resource the aspects that drifted, [] for the ones that match', async () => {
    const root = await tempRoot(onTestFinished);
    const b = payloadBuilder();
    const payload = b.payload([
      fileResource(b, '/etc/a', 'a\n'),
      fileResource(b, '/etc/b', 'b\n'),
      resource('symlink', { id: 'link', path: '/etc/l', target: '/etc/a' }),
      resource('directory', { id: 'dir', path: '/etc/d' }),
      resource('exec', { id: 'ex', argv: ['true'], timeoutMs: 5000, refreshonly: true }),
    ]);
    await applyBundle(payload, engine(root));
    fs.writeFileSync(`${root}/etc/a`, 'edited\n');
    fs.chmodSync(`${root}/etc/a`, 0o600);
    fs.rmSync(`${root}/etc/l`);
    fs.symlinkSync('/elsewhere', `${root}/etc/l`);
    fs.rmdirSync(`${root}/etc/d`);
    const drift = await checkResources(payload, engine(root));
    expect(drift.map((d) => [d.id, d.aspects])).toEqual([
      ['file:/etc/a', ['content', 'mode']],
      ['file:/etc/b', []],
      ['link', ['target']],
      ['dir', ['exists']],
    ]);
    expect(drift[0]?.diff).toContain('-edited\n+a');
    expect((await checkResources(payload, { ...engine(root), ids: ['file:/etc/b', 'dir'] })).map((d) => d.id)).toEqual([
      'file:/etc/b',
      'dir',
    ]);
  });
});
