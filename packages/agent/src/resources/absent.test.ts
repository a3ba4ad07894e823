import fs from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { payloadBuilder, resource, silentLog, TEST_FACTS, tempRoot } from '../engine/_test-payload.js';
import { applyBundle, planBundle } from '../engine/index.js';
import { FakeSystemd } from '../system/_fake-systemd.js';

const engine = (root: string) => ({ root, facts: TEST_FACTS, systemd: new FakeSystemd(), log: silentLog, factsHash: 'f' });
const absent = (path: string) => resource('absent', { id: `absent:${path}`, path });

describe('absent resource', () => {
  it('removes a file, then is a no-op; a missing path is already converged', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc`);
    fs.writeFileSync(`${root}/etc/old.conf`, 'x');
    const payload = payloadBuilder().payload([absent('/etc/old.conf'), absent('/etc/never/was')]);
    const report = await applyBundle(payload, engine(root));
    expect(report.resources.map((r) => [r.outcome, r.changes])).toEqual([
      ['changed', ['removed file']],
      ['unchanged', []],
    ]);
    expect(fs.existsSync(`${root}/etc/old.conf`)).toBe(false);
    expect((await applyBundle(payload, engine(root))).status).toBe('converged');
  });

  it('removes a link itself, never what it points to, and an empty directory', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc/empty.d`, { recursive: true });
    fs.writeFileSync(`${root}/target`, 'keep');
    fs.symlinkSync(`${root}/target`, `${root}/etc/link`);
    await applyBundle(payloadBuilder().payload([absent('/etc/link'), absent('/etc/empty.d')]), engine(root));
    expect(fs.readdirSync(`${root}/etc`)).toEqual([]);
    expect(fs.readFileSync(`${root}/target`, 'utf8')).toBe('keep');
  });

  it('refuses a non-empty directory (its removal could not be rolled back) and a symlinked parent', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/etc/full.d`, { recursive: true });
    fs.writeFileSync(`${root}/etc/full.d/a`, 'x');
    fs.mkdirSync(`${root}/real`);
    fs.writeFileSync(`${root}/real/file`, 'x');
    fs.symlinkSync(`${root}/real`, `${root}/etc/via`);
    const plan = await planBundle(payloadBuilder().payload([absent('/etc/full.d'), absent('/etc/via/file')]), engine(root));
    expect(plan.map((p) => p.error?.code)).toEqual(['STEMS_APPLY_FAILED', 'STEMS_APPLY_SYMLINK']);
    const report = await applyBundle(payloadBuilder().payload([absent('/etc/via/file')]), engine(root));
    expect(report.resources[0]?.error?.code).toBe('STEMS_APPLY_SYMLINK');
    expect(fs.existsSync(`${root}/real/file`)).toBe(true);
  });
});
