import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { affects } from './managed-paths.js';
import { PathWatcher } from './watcher.js';

const silent = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(opts: { maxWatches?: number; debounceMs?: number } = {}) {
  const root = await mkdtemp(join(tmpdir(), 'stems-watch-'));
  const bursts: string[][] = [];
  const watcher = new PathWatcher({ root, log: silent, onChange: (ids) => bursts.push([...ids].sort()), debounceMs: 100, ...opts });
  onTestFinished(async () => {
    watcher.close();
    await rm(root, { recursive: true, force: true });
  });
  return { root, bursts, watcher };
}

const until = async (check: () => boolean, what: string) => {
  const end = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

describe('PathWatcher', () => {
  it('reports an editor burst (write temp, rename over, chmod) as one change of the managed file only', async () => {
    const { root, bursts, watcher } = await setup();
    await mkdir(join(root, 'etc/app'), { recursive: true });
    await writeFile(join(root, 'etc/app/app.conf'), 'a\n');
    watcher.setPaths([
      { id: 'file:/etc/app/app.conf', path: join(root, 'etc/app/app.conf') },
      { id: 'file:/etc/app/other.conf', path: join(root, 'etc/app/other.conf') },
    ]);
    expect(watcher.watchedDirs).toEqual([join(root, 'etc/app')]);
    await writeFile(join(root, 'etc/app/.app.conf.swp'), 'b\n');
    await rename(join(root, 'etc/app/.app.conf.swp'), join(root, 'etc/app/app.conf'));
    await chmod(join(root, 'etc/app/app.conf'), 0o600);
    await until(() => bursts.length > 0, 'a burst');
    await sleep(400); // nothing else follows
    expect(bursts).toEqual([['file:/etc/app/app.conf']]);
  });

  it('watches the nearest existing ancestor of a missing parent and sees the path appear', async () => {
    const { root, bursts, watcher } = await setup();
    await mkdir(join(root, 'etc'));
    watcher.setPaths([{ id: 'file:/etc/new/x.conf', path: join(root, 'etc/new/x.conf') }]);
    expect(watcher.watchedDirs).toEqual([join(root, 'etc')]);
    await mkdir(join(root, 'etc/new'));
    await until(() => bursts.length > 0, 'the parent appearing');
    expect(bursts[0]).toEqual(['file:/etc/new/x.conf']);
    // after the check the daemon refreshes: now the real parent is watched
    expect(watcher.refresh()).toBe(0);
    expect(watcher.watchedDirs).toEqual([join(root, 'etc/new')]);
  });

  it('re-watches a parent directory that was deleted and re-created', async () => {
    const { root, bursts, watcher } = await setup();
    await mkdir(join(root, 'etc/app'), { recursive: true });
    watcher.setPaths([{ id: 'file:/etc/app/a', path: join(root, 'etc/app/a') }]);
    await rm(join(root, 'etc/app'), { recursive: true });
    await mkdir(join(root, 'etc/app'));
    watcher.refresh();
    expect(watcher.watchedDirs).toEqual([join(root, 'etc/app')]);
    bursts.length = 0;
    await writeFile(join(root, 'etc/app/a'), 'x');
    await until(() => bursts.length > 0, 'a change in the new directory');
    expect(bursts[0]).toEqual(['file:/etc/app/a']);
  });

  it('caps the number of watches; the rest is left to the full re-check', async () => {
    const { root, watcher } = await setup({ maxWatches: 2 });
    for (const d of ['a', 'b', 'c']) await mkdir(join(root, d));
    watcher.setPaths(['a', 'b', 'c'].map((d) => ({ id: `file:/${d}/f`, path: join(root, d, 'f') })));
    expect(watcher.watchedDirs).toHaveLength(2);
    expect(watcher.refresh()).toBe(1);
  });

  it('knows which paths a change can affect', () => {
    expect(affects('/etc/app', '/etc/app/app.conf')).toBe(true);
    expect(affects('/etc/app/app.conf', '/etc/app/app.conf')).toBe(true);
    expect(affects('/etc/app.conf', '/etc/app/app.conf')).toBe(false);
    expect(affects('/etc/app/app.conf', '/etc/app')).toBe(false);
  });
});
