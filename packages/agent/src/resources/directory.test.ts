import fs from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { payloadBuilder, resource, silentLog, TEST_FACTS, tempRoot } from '../engine/_test-payload.js';
import { applyBundle, planBundle } from '../engine/index.js';
import { FakeSystemd } from '../system/_fake-systemd.js';

const engine = (root: string) => ({ root, facts: TEST_FACTS, systemd: new FakeSystemd(), log: silentLog, factsHash: 'f' });
const dir = (path: string, extra: { mode?: string; owner?: string; group?: string } = {}) =>
  resource('directory', { id: `directory:${path}`, path, ...extra });

describe('directory resource', () => {
  it('creates with the default mode 0755 and its parents, then is a no-op', async () => {
    const root = await tempRoot(onTestFinished);
    const payload = payloadBuilder().payload([dir('/srv/data/app')]);
    const report = await applyBundle(payload, engine(root));
    expect(report.resources[0]).toMatchObject({ outcome: 'changed', changes: ['created', 'mode 0755'] });
    expect(fs.statSync(`${root}/srv/data/app`).isDirectory()).toBe(true);
    expect(fs.statSync(`${root}/srv/data/app`).mode & 0o7777).toBe(0o755);
    expect((await applyBundle(payload, engine(root))).status).toBe('converged');
  });

  it('changes mode and owner of an existing directory, keeping its entries', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/srv/app`, { recursive: true });
    fs.writeFileSync(`${root}/srv/app/keep`, 'x');
    fs.chmodSync(`${root}/srv/app`, 0o700);
    const payload = payloadBuilder().payload([dir('/srv/app', { mode: '2750', owner: 'daemon', group: 'nogroup' })]);
    const [planned] = await planBundle(payload, engine(root));
    expect(planned).toMatchObject({ action: 'update', changes: ['mode 0700 → 2750', 'owner root → daemon', 'group root → nogroup'] });
    const report = await applyBundle(payload, engine(root));
    expect(report.resources[0]?.changes).toEqual(planned?.changes);
    const st = fs.statSync(`${root}/srv/app`);
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o2750, 1, 65534]);
    expect(fs.readdirSync(`${root}/srv/app`)).toEqual(['keep']);
    expect((await applyBundle(payload, engine(root))).status).toBe('converged');
  });

  it('refuses a symlink where the directory should be', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/elsewhere`, { mode: 0o700 });
    fs.symlinkSync(`${root}/elsewhere`, `${root}/app`);
    const report = await applyBundle(payloadBuilder().payload([dir('/app', { mode: '0777' })]), engine(root));
    expect(report.resources[0]?.error?.code).toBe('STEMS_APPLY_SYMLINK');
    expect(fs.statSync(`${root}/elsewhere`).mode & 0o7777).toBe(0o700);
  });

  it('fails clearly when a file stands where the directory goes', async () => {
    const root = await tempRoot(onTestFinished);
    fs.writeFileSync(`${root}/app`, 'x');
    const report = await applyBundle(payloadBuilder().payload([dir('/app')]), engine(root));
    expect(report.resources[0]?.error).toMatchObject({
      code: 'STEMS_APPLY_FAILED',
      message: expect.stringContaining('a file is in the way'),
    });
  });
});
