import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { removeCgroupsSync } from './cgroups.js';
import { alive, isErrno, runQuietSync, sleepSync } from './exec.js';
import { bridgeDownSync, type NodeNet, nodeNetDownSync } from './network.js';

/**
 * Forced, synchronous cleanup from what is recorded on disk. It is what runs
 * when there is no time for a clean poweroff: in a process 'exit' handler,
 * after a crashed run (found by the next run), and as the last step of every
 * teardown (after the clean poweroff it finds little left to do).
 */

/** What a node leaves on the host, written to node.json when it starts. */
export interface NodeRecord {
  name: string;
  dir: string;
  net: NodeNet;
  cgroups: string[];
}

/** What a run leaves on the host, written to run.json. */
export interface RunRecord {
  runId: string;
  bridge: string;
  subnetPrefix: string;
}

export function nspawnPidFile(nodeDir: string): string {
  return join(nodeDir, 'nspawn.pid');
}

export function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return pid > 0 ? pid : undefined;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/** Direct children of pid (the container's PID 1 is nspawn's child). */
export function childrenOfSync(pid: number): number[] {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    // pgrep exits 1 when there is no child.
    if (!(err instanceof Error)) throw err;
  }
  return out
    .split('\n')
    .map((l) => Number.parseInt(l, 10))
    .filter((n) => n > 0);
}

function killQuiet(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (err) {
    if (!isErrno(err, 'ESRCH')) throw err;
  }
}

function isMountPoint(path: string): boolean {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[1] === path);
}

export function forceCleanNodeSync(node: NodeRecord): void {
  const nspawn = readPid(nspawnPidFile(node.dir));
  if (nspawn !== undefined && alive(nspawn)) {
    // SIGKILL of the container's PID 1 ends its whole pid namespace; nspawn then exits.
    for (const leader of childrenOfSync(nspawn)) killQuiet(leader, 'SIGKILL');
    for (let i = 0; i < 100 && alive(nspawn); i++) sleepSync(50);
    killQuiet(nspawn, 'SIGKILL');
    for (let i = 0; i < 100 && alive(nspawn); i++) sleepSync(50);
  }
  const root = join(node.dir, 'root');
  if (existsSync(root) && isMountPoint(root) && !runQuietSync('umount', [root])) runQuietSync('umount', ['-l', root]);
  nodeNetDownSync(node.net);
  removeCgroupsSync(node.cgroups);
  // nspawn leaves this behind because the host's /run is not a tmpfs here.
  try {
    rmdirSync(`/run/systemd/nspawn/propagate/${node.name}`);
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !isErrno(err, 'ENOTEMPTY')) throw err;
  }
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

/** A property of an untrusted JSON value, or undefined. */
function get(v: unknown, key: string): unknown {
  return typeof v === 'object' && v !== null ? Reflect.get(v, key) : undefined;
}

const isString = (v: unknown): v is string => typeof v === 'string';

function isNodeRecord(v: unknown): v is NodeRecord {
  const net = get(v, 'net');
  const cgroups = get(v, 'cgroups');
  return (
    isString(get(v, 'name')) &&
    isString(get(v, 'dir')) &&
    Array.isArray(cgroups) &&
    cgroups.every(isString) &&
    ['netns', 'veth', 'ip'].every((k) => isString(get(net, k)))
  );
}

function isRunRecord(v: unknown): v is RunRecord {
  return ['runId', 'bridge', 'subnetPrefix'].every((k) => isString(get(v, k)));
}

export function readRunRecord(runDir: string): RunRecord | undefined {
  const record = readJson(join(runDir, 'run.json'));
  return isRunRecord(record) ? record : undefined;
}

/** Cleans every node of a run, its bridge, and deletes the run's directory (node state included). */
export function forceCleanRunSync(runDir: string): void {
  const nodesDir = join(runDir, 'nodes');
  const names = existsSync(nodesDir) ? readdirSync(nodesDir) : [];
  for (const name of names) {
    const record = readJson(join(nodesDir, name, 'node.json'));
    if (isNodeRecord(record)) forceCleanNodeSync(record);
  }
  const run = readRunRecord(runDir);
  if (run) bridgeDownSync(run.bridge);
  // --one-file-system: never descend into a mount that is somehow still there.
  runQuietSync('rm', ['-rf', '--one-file-system', runDir]);
}
