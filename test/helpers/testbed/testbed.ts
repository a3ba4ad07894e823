import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeCgroupDirs } from './cgroups.js';
import { forceCleanRunSync, type RunRecord } from './cleanup.js';
import { run } from './exec.js';
import { withLock } from './lock.js';
import { bridgeName, bridgeUp, inotifyInUse, inotifyLimit, nodeNet, setInotifyLimitSync } from './network.js';
import { type Bind, startNode, type TestbedNode } from './node.js';
import { DEFAULT_BASE_DIR, ensureRootfs } from './rootfs.js';
import { createRun, listRuns, sweepDeadRuns } from './runs.js';

/** More nodes than this is a mistake in a test: each costs ~0.5 s of CPU to boot and ~10 MiB. */
export const MAX_NODES = 16;
/** Every booted systemd holds about 7 inotify instances; 12 leaves room for the units under test. */
const INOTIFY_PER_NODE = 12;

export interface BootOptions {
  /** 1 … MAX_NODES. */
  count: number;
  /** Node i is named `<prefix><i>` (its hostname). @default 'node-' */
  prefix?: string;
  /** A private /24 such as '10.213.80.0/24'. @default the first free 10.213.x.0/24, x ≥ 77 */
  subnet?: string;
  /** @default '/var/tmp/stems-testbed' */
  baseDir?: string;
  /** Extra bind mounts into every node (e.g. a shared directory). */
  binds?: Bind[];
  /** Host Node.js binary bound read-only at /usr/local/bin/node in every node; null for none. @default process.execPath */
  nodeBinary?: string | null;
  /** @default 90_000 */
  bootTimeoutMs?: number;
}

export interface Testbed {
  runId: string;
  /** The host's address on the nodes' bridge: where a hub listens for them. */
  hostIp: string;
  bridge: string;
  nodes: TestbedNode[];
  /** From the first nspawn start until every node was `running`. */
  bootMs: number;
  /** Stops every node and removes everything the run created on the host. Safe to call twice. */
  teardown(): Promise<void>;
}

const live = new Map<string, { dir: string; baseDir: string; nodes: TestbedNode[] }>();
let handlersInstalled = false;

function inotifyOrigFile(baseDir: string): string {
  return join(baseDir, 'inotify.orig');
}

/** Raises fs.inotify.max_user_instances (runtime only) when `count` more nodes would exhaust it. */
async function ensureInotify(baseDir: string, count: number): Promise<void> {
  const want = (await inotifyInUse()) + count * INOTIFY_PER_NODE + 32;
  const current = await inotifyLimit();
  if (current >= want) return;
  if (!existsSync(inotifyOrigFile(baseDir))) writeFileSync(inotifyOrigFile(baseDir), String(current));
  setInotifyLimitSync(want);
}

/** Puts the inotify limit back once no other run is alive. */
function restoreInotifySync(baseDir: string, exceptDir: string): void {
  const file = inotifyOrigFile(baseDir);
  if (!existsSync(file)) return;
  if (listRuns(baseDir).some((r) => r.ownerAlive && r.dir !== exceptDir)) return;
  setInotifyLimitSync(Number.parseInt(readFileSync(file, 'utf8'), 10));
  rmSync(file, { force: true });
}

/** Last-resort cleanup when the process ends without teardown (a failing test, Ctrl-C). */
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const { dir, baseDir } of live.values()) {
      forceCleanRunSync(dir);
      restoreInotifySync(baseDir, dir);
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      void teardown().finally(() => process.kill(process.pid, signal));
    });
  }
}

async function tearDownRun(runId: string): Promise<void> {
  const entry = live.get(runId);
  if (!entry) return;
  try {
    await Promise.allSettled(entry.nodes.map((n) => n.stop()));
  } finally {
    // Also catches nodes whose boot failed half-way and the bridge.
    forceCleanRunSync(entry.dir);
    live.delete(runId);
    restoreInotifySync(entry.baseDir, entry.dir);
  }
}

/**
 * Boots `count` Debian bookworm nodes with systemd as PID 1, each in its own
 * network namespace on a fresh bridge where the host has `<subnet>.1` and
 * node i has `<subnet>.(10+i)`. Builds the shared rootfs first if needed.
 */
export async function bootNodes(opts: BootOptions): Promise<Testbed> {
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > MAX_NODES) {
    throw new RangeError(`count must be 1…${MAX_NODES}, got ${opts.count}`);
  }
  const baseDir = opts.baseDir ?? DEFAULT_BASE_DIR;
  const prefix = opts.prefix ?? 'node-';
  const { path: rootfs } = await ensureRootfs({ baseDir });
  installExitHandlers();
  const { dir, record } = await withLock(join(baseDir, 'net.lock'), async () => {
    sweepDeadRuns(baseDir);
    const created = await createRun(baseDir, opts.subnet);
    await ensureInotify(baseDir, opts.count);
    await bridgeUp(created.record.bridge, created.record.subnetPrefix);
    return created;
  });
  const nodes: TestbedNode[] = [];
  const entry = { dir, baseDir, nodes };
  live.set(record.runId, entry);
  const binds = [...(opts.binds ?? [])];
  const nodeBinary = opts.nodeBinary === undefined ? process.execPath : opts.nodeBinary;
  if (nodeBinary) binds.push({ host: nodeBinary, node: '/usr/local/bin/node', readOnly: true });
  const t0 = Date.now();
  try {
    const booted = await Promise.allSettled(
      Array.from({ length: opts.count }, async (_, i) => {
        const name = `${prefix}${i + 1}`;
        const node = await startNode({
          name,
          dir: join(dir, 'nodes', name),
          net: nodeNet(record.runId, record.subnetPrefix, i + 1),
          cgroups: nodeCgroupDirs(record.runId, name),
          bridge: record.bridge,
          rootfs,
          binds,
          bootTimeoutMs: opts.bootTimeoutMs ?? 90_000,
        });
        entry.nodes.push(node);
        return node;
      }),
    );
    const failed = booted.find((b): b is PromiseRejectedResult => b.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (err) {
    await tearDownRun(record.runId);
    throw err;
  }
  entry.nodes.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  return testbedOf(record, entry.nodes, Date.now() - t0);
}

function testbedOf(record: RunRecord, nodes: TestbedNode[], bootMs: number): Testbed {
  return {
    runId: record.runId,
    hostIp: `${record.subnetPrefix}.1`,
    bridge: record.bridge,
    nodes,
    bootMs,
    teardown: () => tearDownRun(record.runId),
  };
}

/** Tears down every testbed this process booted. Always safe to call (also with none). */
export async function teardown(): Promise<void> {
  for (const runId of [...live.keys()]) await tearDownRun(runId);
}

/** What of a run is still on the host (netns, links, mounts, cgroups, files); [] after a clean teardown. */
export async function hostLeftovers(runId: string, baseDir = DEFAULT_BASE_DIR): Promise<string[]> {
  const found: string[] = [];
  const netns = await run('ip', ['netns', 'list']);
  for (const line of netns.stdout.split('\n')) if (line.includes(`stems-${runId}-`)) found.push(`netns ${line.trim()}`);
  const links = await run('ip', ['-o', 'link', 'show']);
  for (const line of links.stdout.split('\n')) {
    // "3: stv1a2b3cn1@if2: <…>": the interface name, without the peer suffix.
    const name = line.split(': ')[1]?.split('@')[0] ?? '';
    if (name === bridgeName(runId) || name.startsWith(`stv${runId}n`)) found.push(`link ${name}`);
  }
  const runDir = join(baseDir, 'runs', runId);
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) if (line.includes(runDir)) found.push(`mount ${line}`);
  for (const dir of nodeCgroupDirs(runId, '')) {
    const parent = join(dir, '..');
    const hits = existsSync(parent) ? (await run('ls', [parent])).stdout.split('\n').filter((n) => n.startsWith(`${runId}-`)) : [];
    for (const hit of hits) found.push(`cgroup ${join(parent, hit)}`);
  }
  if (existsSync(runDir)) found.push(`dir ${runDir}`);
  return found;
}
