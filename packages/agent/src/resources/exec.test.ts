import fs from 'node:fs';
import type { Resource } from '@stems/shared';
import { describe, expect, it, onTestFinished } from 'vitest';
import { fileResource, payloadBuilder, resource, silentLog, TEST_FACTS, tempRoot } from '../engine/_test-payload.js';
import { applyBundle, planBundle } from '../engine/index.js';
import { FakeSystemd } from '../system/_fake-systemd.js';

const engine = (root: string) => ({ root, facts: TEST_FACTS, systemd: new FakeSystemd(), log: silentLog, factsHash: 'f' });

function exec(id: string, argv: string[], extra: Partial<Extract<Resource, { type: 'exec' }>> = {}): Resource {
  return resource('exec', { id, argv, timeoutMs: 10_000, refreshonly: false, ...extra });
}

/** A command that appends a line to <root>/runs, so a test can count runs. */
const counter = (root: string, id: string) => exec(id, ['sh', '-c', `echo ${id} >> ${root}/runs`]);
const runs = (root: string) => (fs.existsSync(`${root}/runs`) ? fs.readFileSync(`${root}/runs`, 'utf8').trim().split('\n') : []);

describe('exec resource', () => {
  it('runs an argv without a shell and puts its output in the report', async () => {
    const root = await tempRoot(onTestFinished);
    const report = await applyBundle(payloadBuilder().payload([exec('echo', ['echo', '$HOME;', '`id`'])]), engine(root));
    expect(report.resources[0]).toMatchObject({ outcome: 'changed', changes: ['run echo $HOME; `id`', 'exit 0', 'output: $HOME; `id`'] });
  });

  it('runs in cwd under the root with the given env, STEMS_ROOT and a fixed PATH', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/work`);
    const report = await applyBundle(
      payloadBuilder().payload([
        exec('env', ['sh', '-c', 'echo "$GREETING $PATH $STEMS_ROOT"; pwd'], { cwd: '/work', env: { GREETING: 'hi' } }),
      ]),
      engine(root),
    );
    expect(report.resources[0]?.changes[2]).toBe(
      `output: hi /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ${root}\n${root}/work`,
    );
  });

  it('skips when creates exists under the root, when unless succeeds, or when onlyif fails', async () => {
    const root = await tempRoot(onTestFinished);
    fs.mkdirSync(`${root}/var`);
    fs.writeFileSync(`${root}/var/done`, '');
    const payload = payloadBuilder().payload([
      { ...counter(root, 'creates'), creates: '/var/done' } as Resource,
      { ...counter(root, 'unless'), unless: ['test', '-e', `${root}/var/done`] } as Resource,
      { ...counter(root, 'onlyif-false'), onlyif: ['false'] } as Resource,
      { ...counter(root, 'onlyif-true'), onlyif: ['true'] } as Resource,
      { ...counter(root, 'creates-missing'), creates: '/var/not-yet' } as Resource,
    ]);
    const planned = await planBundle(payload, engine(root));
    expect(planned.map((p) => p.id)).toEqual(['onlyif-true', 'creates-missing']);
    const report = await applyBundle(payload, engine(root));
    expect(report.resources.map((r) => r.outcome)).toEqual(['unchanged', 'unchanged', 'unchanged', 'changed', 'changed']);
    expect(runs(root)).toEqual(['onlyif-true', 'creates-missing']);
  });

  it('fails with STEMS_APPLY_EXEC_FAILED and the output on a non-zero exit', async () => {
    const root = await tempRoot(onTestFinished);
    const report = await applyBundle(payloadBuilder().payload([exec('bad', ['sh', '-c', 'echo broken >&2; exit 3'])]), engine(root));
    expect(report.resources[0]?.error).toMatchObject({ code: 'STEMS_APPLY_EXEC_FAILED', details: { code: 3, output: 'broken' } });
    const missing = await applyBundle(payloadBuilder().payload([exec('nope', ['stems-no-such-command'])]), engine(root));
    expect(missing.resources[0]?.error).toMatchObject({ code: 'STEMS_APPLY_EXEC_FAILED', details: { code: 127 } });
  });

  it('kills the whole process group on timeout', async () => {
    const root = await tempRoot(onTestFinished);
    const started = Date.now();
    const report = await applyBundle(
      payloadBuilder().payload([exec('slow', ['sh', '-c', `sleep 30 & echo $! > ${root}/child; wait`], { timeoutMs: 300 })]),
      engine(root),
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(report.resources[0]?.error).toMatchObject({ code: 'STEMS_APPLY_EXEC_FAILED', details: { timedOut: true } });
    const child = Number(fs.readFileSync(`${root}/child`, 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    // gone, or a zombie waiting for PID 1 to reap it (this container's init may not)
    const stat = fs.existsSync(`/proc/${child}/stat`) ? fs.readFileSync(`/proc/${child}/stat`, 'utf8') : '';
    expect(stat === '' || /^\d+ \(sleep\) Z/.test(stat)).toBe(true);
  });

  it('runs a refreshonly exec only when notified, once, after its notifiers', async () => {
    const root = await tempRoot(onTestFinished);
    const b = payloadBuilder();
    const notify = { notify: ['reload'] };
    const build = (a: string, c: string) =>
      b.payload([
        fileResource(b, '/etc/a.conf', a, notify),
        { ...counter(root, 'reload'), refreshonly: true } as Resource,
        fileResource(b, '/etc/c.conf', c, notify),
      ]);
    expect(await planBundle(build('1', '1'), engine(root))).toMatchObject([
      { id: 'file:/etc/a.conf' },
      { id: 'reload', action: 'run' },
      { id: 'file:/etc/c.conf' },
    ]);
    await applyBundle(build('1', '1'), engine(root));
    expect(runs(root)).toEqual(['reload']);
    expect((await applyBundle(build('1', '1'), engine(root))).status).toBe('converged');
    expect(runs(root)).toEqual(['reload']);
    // only the later notifier changes: the exec runs after it (a late refresh)
    const report = await applyBundle(build('1', '2'), engine(root));
    expect(runs(root)).toEqual(['reload', 'reload']);
    expect(report.resources.map((r) => r.outcome)).toEqual(['unchanged', 'changed', 'changed']);
  });
});
