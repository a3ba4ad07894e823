import { lstat, mkdtemp, open, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeFileAtomic } from './fs-atomic.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stems-atomic-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes with mode 0600 by default, replaces an old file and leaves no temp file', async () => {
    const path = join(dir, 'state.json');
    await writeFile(path, 'old');
    await writeFileAtomic(path, 'new');
    expect(await readFile(path, 'utf8')).toBe('new');
    expect((await lstat(path)).mode & 0o777).toBe(0o600);
    await writeFileAtomic(path, new Uint8Array([1, 2]), { mode: 0o644 });
    expect((await lstat(path)).mode & 0o777).toBe(0o644);
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('fsyncs the file and its directory, unless the write is a cache (durable: false)', async () => {
    // A spy on FileHandle.sync: fsync has no other trace a test can read.
    const probe = await open(join(dir, 'probe'), 'w');
    const sync = vi.spyOn(Object.getPrototypeOf(probe) as { sync(): Promise<void> }, 'sync');
    await probe.close();
    try {
      await writeFileAtomic(join(dir, 'durable'), 'kept');
      expect(sync).toHaveBeenCalledTimes(2);
      sync.mockClear();
      await writeFileAtomic(join(dir, 'cache'), 'maybe', { durable: false });
      expect(sync).not.toHaveBeenCalled();
      expect(await readFile(join(dir, 'cache'), 'utf8')).toBe('maybe');
    } finally {
      sync.mockRestore();
    }
  });

  it('creates parents only when asked', async () => {
    await expect(writeFileAtomic(join(dir, 'a/b/c'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    await writeFileAtomic(join(dir, 'a/b/c'), 'x', { mkdirs: true });
    expect(await readFile(join(dir, 'a/b/c'), 'utf8')).toBe('x');
  });

  it('replaces a symlink at the target itself, never writing through it', async () => {
    const victim = join(dir, 'victim');
    await writeFile(victim, 'untouched');
    const link = join(dir, 'link');
    await symlink(victim, link);
    await writeFileAtomic(link, 'mine');
    expect(await readFile(victim, 'utf8')).toBe('untouched');
    expect((await lstat(link)).isFile()).toBe(true);
  });
});
