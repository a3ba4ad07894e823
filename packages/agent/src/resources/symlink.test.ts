import fs from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { payloadBuilder, resource, silentLog, TEST_FACTS, tempRoot } from '../engine/_test-payload.js';
import { applyBundle, planBundle } from '../engine/index.js';
import { FakeSystemd } from '../system/_fake-systemd.js';

const engine = (root: string) => ({ root, facts: TEST_FACTS, systemd: new FakeSystemd(), log: silentLog, factsHash: 'f' });
const link = (path: string, target: string) => resource('symlink', { id: `symlink:${path}`, path, target });

describe('symlink resource', () => {
  it('creates a link with the target text as given, then is a no-op', async () => {
    const root = await tempRoot(onTestFinished);
    const payload = payloadBuilder().payload([link('/etc/app/current', '/etc/app/v1')]);
    const report = await applyBundle(payload, engine(root));
    expect(report.resources[0]).toMatchObject({ outcome: 'changed', changes: ['created → /etc/app/v1'] });
    expect(fs.readlinkSync(`${root}/etc/app/current`)).toBe('/etc/app/v1');
    expect((await applyBundle(payload, engine(root))).status).toBe('converged');
  });

  it('retargets an existing link atomically', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.symlinkSync('v1', `${root}/etc/current`);
    const payload = payloadBuilder().payload([link('/etc/current', 'v2')]);
    expect((await planBundle(payload, engine(root)))[0]?.changes).toEqual(['target v1 → v2']);
    await applyBundle(payload, engine(root));
    expect(fs.readlinkSync(`${root}/etc/current`)).toBe('v2');
    expect(fs.readdirSync(`${root}/etc`)).toEqual(['current']);
  });

  it('replaces a regular file, and a rollback brings the file back', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.writeFileSync(`${root}/etc/current`, 'was a file\n', { mode: 0o640 });
    const ok = await applyBundle(payloadBuilder().payload([link('/etc/current', 'v2')]), engine(root));
    expect(ok.resources[0]?.changes).toEqual(['file replaced by link → v2']);
    fs.rmSync(`${root}/etc/current`);
    fs.writeFileSync(`${root}/etc/current`, 'was a file\n', { mode: 0o640 });
    const failing = resource('exec', { id: 'fail', argv: ['false'], timeoutMs: 5000, refreshonly: false });
    const rolled = await applyBundle(payloadBuilder().payload([link('/etc/current', 'v2'), failing]), engine(root));
    expect(rolled.status).toBe('rolled_back');
    expect(fs.readFileSync(`${root}/etc/current`, 'utf8')).toBe('was a file\n');
    expect(fs.statSync(`${root}/etc/current`).mode & 0o7777).toBe(0o640);
  });

  it('refuses to replace a directory', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc/current`, { recursive: true });
    const report = await applyBundle(payloadBuilder().payload([link('/etc/current', 'v2')]), engine(root));
    expect(report.resources[0]?.error?.code).toBe('STEMS_APPLY_FAILED');
    expect(fs.statSync(`${root}/etc/current`).isDirectory()).toBe(true);
  });
});
