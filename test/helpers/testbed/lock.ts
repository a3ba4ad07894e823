import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { alive, isErrno, sleep } from './exec.js';

export interface LockOptions {
  /** Give up waiting for the lock after this long. @default 900_000 (a cold rootfs build with apt takes minutes) */
  waitMs?: number;
}

async function holder(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt(await readFile(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/**
 * Runs fn while holding an exclusive lock file (O_EXCL create, holding our
 * pid). A lock left by a dead process is taken over, so a crashed test run
 * does not block the next one. Used across processes: two vitest workers must
 * not debootstrap into the same directory or claim the same subnet.
 */
export async function withLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  const deadline = Date.now() + (opts.waitMs ?? 900_000);
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if (!isErrno(err, 'EEXIST')) throw err;
    }
    const pid = await holder(path);
    // No pid yet means the holder is between create and write: wait for it.
    if (pid !== undefined && !alive(pid)) {
      await unlink(path).catch((err: unknown) => {
        if (!isErrno(err, 'ENOENT')) throw err;
      });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${path} held by pid ${pid ?? '?'}`);
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    await unlink(path);
  }
}
