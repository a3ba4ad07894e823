import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { debianMirrorFrom, readAptSources } from './apt-mirror.js';
import { run, runOk } from './exec.js';
import { withLock } from './lock.js';

/** Where the shared read-only rootfs, the per-run node state and the locks live. */
export const DEFAULT_BASE_DIR = '/var/tmp/stems-testbed';
const SUITE = 'bookworm';
// curl: the one-line install is `curl … | sh`; iproute2: `ip` inside nodes.
const PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'iproute2', 'ca-certificates', 'curl'];
/** Written last: a rootfs without it (interrupted build, other package list) is rebuilt. */
const MARKER = `.stems-testbed-rootfs-${SUITE}-${PACKAGES.join(',')}`;
const HOST_TOOLS: Record<string, string> = { debootstrap: 'debootstrap', 'systemd-nspawn': 'systemd-container' };

export interface RootfsOptions {
  /** @default '/var/tmp/stems-testbed' (the rootfs goes to `<baseDir>/rootfs`) */
  baseDir?: string;
}

export interface Rootfs {
  path: string;
  /** How long this call spent building it; undefined when the cached one was reused. */
  builtMs?: number;
  /** How long installing host packages took, when they were missing. */
  hostToolsMs?: number;
}

async function installHostTools(): Promise<number | undefined> {
  const missing: string[] = [];
  for (const [tool, pkg] of Object.entries(HOST_TOOLS)) {
    if ((await run('sh', ['-c', `command -v ${tool} || test -x /usr/sbin/${tool}`])).code !== 0) missing.push(pkg);
  }
  if (missing.length === 0) return undefined;
  const t0 = Date.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // --no-install-recommends keeps libnss-mymachines out of the host's nsswitch.conf.
  const install = ['install', '-y', '-q', '-o', 'DPkg::Lock::Timeout=600', '--no-install-recommends', ...missing];
  let result = await run('apt-get', install, { env, timeoutMs: 600_000 });
  if (result.code !== 0) {
    // Usually "Unable to locate package": the package lists were never fetched.
    await runOk('apt-get', ['update', '-q', '-o', 'DPkg::Lock::Timeout=600'], { env, timeoutMs: 600_000 });
    result = await run('apt-get', install, { env, timeoutMs: 600_000 });
  }
  if (result.code !== 0) throw new Error(`apt-get install ${missing.join(' ')} failed:\n${result.stderr.slice(-2000)}`);
  return Date.now() - t0;
}

async function debootstrap(target: string): Promise<void> {
  const mirror = debianMirrorFrom(await readAptSources(), SUITE);
  if (!mirror) throw new Error(`no apt source for suite "${SUITE}" in /etc/apt/sources.list{,.d}: debootstrap needs a Debian mirror`);
  const result = await run('debootstrap', ['--variant=minbase', `--include=${PACKAGES.join(',')}`, SUITE, target, mirror], {
    timeoutMs: 900_000,
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` },
  });
  if (result.code !== 0) {
    // The log names the mirror: show it masked, keep nothing.
    const tail = `${result.stdout}\n${result.stderr}`.slice(-3000).split(mirror).join('<mirror>');
    throw new Error(`debootstrap ${SUITE} failed (exit ${result.code}):\n${tail}`);
  }
}

/**
 * Removes an old or half-built rootfs. An interrupted debootstrap can leave
 * /proc or /sys mounted inside it: unmount those first, and never cross into
 * another file system while deleting.
 */
async function removeRootfs(path: string): Promise<void> {
  const mounts = (await readFile('/proc/self/mounts', 'utf8'))
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((target) => target === path || target.startsWith(`${path}/`))
    .sort((a, b) => b.length - a.length);
  for (const target of mounts) await runOk('umount', ['-l', target]);
  await runOk('rm', ['-rf', '--one-file-system', path]);
}

/** The shared post-install steps; none of them may leave the mirror's name behind. */
async function configure(root: string): Promise<void> {
  await writeFile(join(root, 'etc/apt/sources.list'), '');
  await rm(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
  await mkdir(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  for (const name of await readdir(join(root, 'var/cache/apt'))) {
    if (name.endsWith('.bin')) await rm(join(root, 'var/cache/apt', name));
  }
  await rm(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
  await mkdir(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
  // debootstrap's own log records the mirror URL.
  await rm(join(root, 'var/log/bootstrap.log'), { force: true });
  // Without /etc/hostname systemd keeps the name nspawn --hostname= gives each node.
  await rm(join(root, 'etc/hostname'), { force: true });
  // Empty machine-id: each node boot gets a fresh one.
  await writeFile(join(root, 'etc/machine-id'), '');
  await rm(join(root, 'etc/resolv.conf'), { force: true });
  await writeFile(join(root, 'etc/resolv.conf'), '');
  await mkdir(join(root, 'etc/systemd/journald.conf.d'), { recursive: true });
  await writeFile(join(root, 'etc/systemd/journald.conf.d/10-testbed.conf'), '[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n');
  // Useless in a container (no clock to set, no mirror to fetch from) and only add noise.
  for (const unit of ['systemd-timesyncd.service', 'apt-daily.timer', 'apt-daily-upgrade.timer']) {
    const link = join(root, 'etc/systemd/system', unit);
    await rm(link, { force: true });
    await symlink('/dev/null', link);
  }
  await mkdir(join(root, 'opt/stems'), { recursive: true });
}

/** Fails if the mirror's host name is still written somewhere in the rootfs' /etc or /var. */
async function assertNoMirror(root: string): Promise<void> {
  const mirror = debianMirrorFrom(await readAptSources(), SUITE);
  const host = mirror ? new URL(mirror).hostname : undefined;
  if (!host) return;
  const found = await run('grep', ['-rlsI', '--fixed-strings', host, join(root, 'etc'), join(root, 'var')]);
  if (found.stdout.trim()) throw new Error(`the rootfs still names the apt mirror in: ${found.stdout.trim().split('\n').join(', ')}`);
}

/**
 * Makes sure the shared Debian bookworm rootfs exists (debootstrap, ~60 s the
 * first time; reused afterwards) and the host has debootstrap and
 * systemd-nspawn (installed with apt-get when missing). Safe to call from
 * several test files at once: a lock serializes the build.
 */
export async function ensureRootfs(opts: RootfsOptions = {}): Promise<Rootfs> {
  const baseDir = opts.baseDir ?? DEFAULT_BASE_DIR;
  const path = join(baseDir, 'rootfs');
  return withLock(join(baseDir, 'rootfs.lock'), async () => {
    const hostToolsMs = await installHostTools();
    if (existsSync(join(path, MARKER)) && existsSync(join(path, 'lib/systemd/systemd'))) return { path, hostToolsMs };
    const t0 = Date.now();
    await removeRootfs(path);
    await debootstrap(path);
    await configure(path);
    await assertNoMirror(path);
    await writeFile(join(path, MARKER), `${new Date().toISOString()}\n`);
    return { path, builtMs: Date.now() - t0, hostToolsMs };
  });
}
