import fs from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { tempRoot } from '../engine/_test-payload.js';
import { Accounts } from './accounts.js';
import { SafeFs, TEMP_FILE } from './safe-fs.js';

// These cover the races the engine's lstat walk cannot: a link swapped in
// between the check and the write must still never be followed.
describe('SafeFs', () => {
  it('never reads, chmods or writes through a symlink at the path itself', async () => {
    const root = await tempRoot(onTestFinished);
    fs.writeFileSync(`${root}/victim`, 'secret', { mode: 0o600 });
    fs.chmodSync(`${root}/victim`, 0o600);
    fs.symlinkSync(`${root}/victim`, `${root}/link`);
    const sfs = new SafeFs(root);
    expect(() => sfs.readFile('/link')).toThrow(expect.objectContaining({ code: 'STEMS_APPLY_SYMLINK' }));
    expect(() => sfs.setMeta('/link', { mode: 0o666 })).toThrow(expect.objectContaining({ code: 'STEMS_APPLY_SYMLINK' }));
    sfs.writeFile('/link', Buffer.from('new'), { mode: 0o644 });
    // the rename replaced the link itself; the victim is as it was
    expect(fs.lstatSync(`${root}/link`).isFile()).toBe(true);
    expect(fs.readFileSync(`${root}/victim`, 'utf8')).toBe('secret');
    expect(fs.statSync(`${root}/victim`).mode & 0o7777).toBe(0o600);
  });

  it('stages a complete temp file with its final mode and owner, invisible under the target name', async () => {
    const root = await tempRoot(onTestFinished);
    const sfs = new SafeFs(root);
    const staged = sfs.stage('/conf', Buffer.from('hello'), { mode: 0o640, uid: 1, gid: 1 });
    const [temp] = fs.readdirSync(root);
    expect(temp).toMatch(TEMP_FILE);
    const st = fs.statSync(`${root}/${temp}`);
    expect([st.mode & 0o7777, st.uid, st.gid, st.size]).toEqual([0o640, 1, 1, 5]);
    expect(fs.existsSync(`${root}/conf`)).toBe(false);
    sfs.discard(staged);
    expect(fs.readdirSync(root)).toEqual([]);
  });

  it('treats "" and "/" as the real root and strips a trailing slash', () => {
    expect(new SafeFs('/').hostPath('/etc/motd')).toBe('/etc/motd');
    expect(new SafeFs('').hostPath('/etc/motd')).toBe('/etc/motd');
    expect(new SafeFs('/srv/node1/').hostPath('/etc/motd')).toBe('/srv/node1/etc/motd');
  });
});

describe('Accounts', () => {
  it('resolves names from the root, numbers as they are, and refuses unknown names', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.writeFileSync(`${root}/etc/passwd`, '# comment\nroot:x:0:0::/root:/bin/sh\napp:x:1001:1002::/:/bin/false\n');
    fs.writeFileSync(`${root}/etc/group`, 'root:x:0:\napp:x:1002:\n');
    const accounts = new Accounts(root);
    expect([accounts.uid('app'), accounts.gid('app'), accounts.uid('4242')]).toEqual([1001, 1002, 4242]);
    expect([accounts.userName(1001), accounts.groupName(7)]).toEqual(['app', '7']);
    expect(() => accounts.uid('daemon')).toThrow(expect.objectContaining({ code: 'STEMS_APPLY_UNKNOWN_USER' }));
  });
});
