import fs from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { fileResource, payloadBuilder, silentLog, TEST_FACTS, tempRoot } from '../engine/_test-payload.js';
import { applyBundle, planBundle } from '../engine/index.js';
import { FakeSystemd } from '../system/_fake-systemd.js';

const engine = (root: string) => ({ root, facts: TEST_FACTS, systemd: new FakeSystemd(), log: silentLog, factsHash: 'f' });

describe('file resource', () => {
  it('creates a rendered file with parents 0755 and mode 0644, then is a no-op', async () => {
    const root = await tempRoot(onTestFinished);
    const b = payloadBuilder();
    const payload = b.payload([
      fileResource(b, '/etc/app/deep/app.conf', 'host={{facts.hostname}} swap={{vars.swappiness}}\n', { render: true }),
    ]);
    const first = await applyBundle(payload, engine(root));
    expect(first.status).toBe('changed');
    expect(first.resources[0]).toMatchObject({ outcome: 'changed', changes: ['created', 'mode 0644'] });
    expect(first.resources[0]?.diff).toContain('+host=director swap=10');
    expect(fs.readFileSync(`${root}/etc/app/deep/app.conf`, 'utf8')).toBe('host=director swap=10\n');
    expect(fs.statSync(`${root}/etc/app/deep/app.conf`).mode & 0o7777).toBe(0o644);
    expect(fs.statSync(`${root}/etc/app`).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(`${root}/etc/app/deep`).mode & 0o7777).toBe(0o755);
    const second = await applyBundle(payload, engine(root));
    expect(second.status).toBe('converged');
    expect(second.resources[0]).toMatchObject({ outcome: 'unchanged', changes: [] });
    expect(await planBundle(payload, engine(root))).toEqual([]);
  });

  it('rewrites changed content atomically and reports a diff', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.writeFileSync(`${root}/etc/motd`, 'old line\nsame\n', { mode: 0o644 });
    const inode = fs.statSync(`${root}/etc/motd`).ino;
    const b = payloadBuilder();
    const payload = b.payload([fileResource(b, '/etc/motd', 'new line\nsame\n')]);
    const report = await applyBundle(payload, engine(root));
    expect(report.resources[0]).toMatchObject({ outcome: 'changed', changes: ['content'] });
    expect(report.resources[0]?.diff).toContain('-old line\n+new line');
    expect(fs.readFileSync(`${root}/etc/motd`, 'utf8')).toBe('new line\nsame\n');
    // a new inode: the content was renamed into place, not rewritten in place
    expect(fs.statSync(`${root}/etc/motd`).ino).not.toBe(inode);
    expect(fs.readdirSync(`${root}/etc`)).toEqual(['motd']);
  });

  it('fixes mode and owner in place, by name, without touching the content', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.writeFileSync(`${root}/etc/secret`, 'x\n', { mode: 0o666 });
    fs.chmodSync(`${root}/etc/secret`, 0o666);
    const inode = fs.statSync(`${root}/etc/secret`).ino;
    const b = payloadBuilder();
    const payload = b.payload([fileResource(b, '/etc/secret', 'x\n', { mode: '0600', owner: 'daemon', group: 'daemon', sensitive: true })]);
    const report = await applyBundle(payload, engine(root));
    expect(report.resources[0]).toMatchObject({
      outcome: 'changed',
      changes: ['mode 0666 → 0600', 'owner root → daemon', 'group root → daemon'],
    });
    const st = fs.statSync(`${root}/etc/secret`);
    expect([st.mode & 0o7777, st.uid, st.gid, st.ino]).toEqual([0o600, 1, 1, inode]);
    expect((await applyBundle(payload, engine(root))).status).toBe('converged');
  });

  it('writes a new file with its owner and mode already set and never diffs sensitive content', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.writeFileSync(`${root}/etc/token`, 'old-secret\n', { mode: 0o644 });
    const b = payloadBuilder();
    const payload = b.payload([
      fileResource(b, '/etc/token', 'new-secret\n', { mode: '0640', owner: 'nobody', group: '0', sensitive: true }),
    ]);
    const [planned] = await planBundle(payload, engine(root));
    expect(planned).toMatchObject({ id: 'file:/etc/token', action: 'update' });
    expect(planned?.diff).toBeUndefined();
    const report = await applyBundle(payload, engine(root));
    expect(report.resources[0]?.diff).toBeUndefined();
    expect(JSON.stringify(report)).not.toContain('secret');
    const st = fs.statSync(`${root}/etc/token`);
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o640, 65534, 0]);
  });

  it('keeps an unmanaged owner when the content changes', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.writeFileSync(`${root}/etc/owned`, 'a\n', { mode: 0o644 });
    fs.chownSync(`${root}/etc/owned`, 1, 1);
    const b = payloadBuilder();
    await applyBundle(b.payload([fileResource(b, '/etc/owned', 'b\n')]), engine(root));
    const st = fs.statSync(`${root}/etc/owned`);
    expect([st.uid, st.gid]).toEqual([1, 1]);
  });

  it('fails with STEMS_APPLY_UNKNOWN_USER for an owner the node does not have', async () => {
    const root = await tempRoot(onTestFinished);
    const b = payloadBuilder();
    const report = await applyBundle(b.payload([fileResource(b, '/etc/x', 'x', { owner: 'no-such-user' })]), engine(root));
    expect(report.status).toBe('rolled_back');
    expect(report.resources[0]?.error?.code).toBe('STEMS_APPLY_UNKNOWN_USER');
    expect(fs.existsSync(`${root}/etc`)).toBe(false);
  });

  it('reads owners from <root>/etc/passwd when the root has one', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.writeFileSync(`${root}/etc/passwd`, 'root:x:0:0::/root:/bin/sh\nexporter:x:4242:4243::/:/bin/false\n');
    fs.writeFileSync(`${root}/etc/group`, 'root:x:0:\nexporter:x:4243:\n');
    const b = payloadBuilder();
    await applyBundle(b.payload([fileResource(b, '/etc/exp', 'x', { owner: 'exporter', group: 'exporter' })]), engine(root));
    const st = fs.statSync(`${root}/etc/exp`);
    expect([st.uid, st.gid]).toEqual([4242, 4243]);
  });

  it('refuses a symlink at the managed path and leaves its victim untouched', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.writeFileSync(`${root}/victim`, 'precious\n', { mode: 0o600 });
    fs.symlinkSync(`${root}/victim`, `${root}/etc/motd`);
    const b = payloadBuilder();
    const payload = b.payload([fileResource(b, '/etc/motd', 'owned!\n', { mode: '0666' })]);
    const [planned] = await planBundle(payload, engine(root));
    expect(planned?.error?.code).toBe('STEMS_APPLY_SYMLINK');
    const report = await applyBundle(payload, engine(root));
    expect(report.resources[0]?.error?.code).toBe('STEMS_APPLY_SYMLINK');
    expect(fs.readFileSync(`${root}/victim`, 'utf8')).toBe('precious\n');
    expect(fs.statSync(`${root}/victim`).mode & 0o7777).toBe(0o600);
    expect(fs.lstatSync(`${root}/etc/motd`).isSymbolicLink()).toBe(true);
  });

  it('refuses a symlink in a parent directory and writes nothing through it', async () => {
    const root = await tempRoot(onTestFinished);
    const outside = await tempRoot(onTestFinished);
    fs.writeFileSync(`${outside}/app.conf`, 'victim\n');
    fs.mkdirSync(`${root}/etc`);
    fs.symlinkSync(outside, `${root}/etc/app`);
    const b = payloadBuilder();
    const report = await applyBundle(
      b.payload([fileResource(b, '/etc/app/app.conf', 'evil\n'), fileResource(b, '/etc/app/new.conf', 'evil\n')]),
      engine(root),
    );
    expect(report.resources[0]?.error).toMatchObject({ code: 'STEMS_APPLY_SYMLINK', details: { link: '/etc/app' } });
    expect(fs.readdirSync(outside)).toEqual(['app.conf']);
    expect(fs.readFileSync(`${outside}/app.conf`, 'utf8')).toBe('victim\n');
  });

  it('removes temp files a killed apply left next to managed files', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.writeFileSync(`${root}/etc/.motd.stems-0123456789ab.tmp`, 'half');
    fs.writeFileSync(`${root}/etc/.keep-me.tmp`, 'not ours');
    const b = payloadBuilder();
    await applyBundle(b.payload([fileResource(b, '/etc/motd', 'x\n')]), engine(root));
    expect(fs.readdirSync(`${root}/etc`).sort()).toEqual(['.keep-me.tmp', 'motd']);
  });
});
