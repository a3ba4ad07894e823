import { readFile } from 'node:fs/promises';
import { runOk, runQuietSync } from './exec.js';

/**
 * Host-side networking of a testbed run: one bridge with a private /24 the
 * run claims for itself, and per node a network namespace whose eth0 is one
 * end of a veth pair on that bridge. Nodes have no default route, so their
 * traffic can only reach the bridge subnet; the host's ip_forward is untouched.
 */

/** Node i (1-based) gets <prefix>.(10+i); the host (the "hub") has <prefix>.1. */
const NODE_HOST_OFFSET = 10;

export interface NodeNet {
  netns: string;
  /** Host end of the veth pair (≤15 chars, the kernel's limit for interface names). */
  veth: string;
  ip: string;
}

export function nodeNet(runId: string, subnetPrefix: string, index: number): NodeNet {
  return { netns: `stems-${runId}-n${index}`, veth: `stv${runId}n${index}`, ip: `${subnetPrefix}.${NODE_HOST_OFFSET + index}` };
}

export function bridgeName(runId: string): string {
  return `stbr${runId}`;
}

/** Parses "10.213.77.0/24" (a private /24) into its first three octets. */
export function parseSubnet(cidr: string): string {
  const m = cidr.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/);
  const [a, b, c] = (m?.slice(1) ?? []).map(Number);
  if (a === undefined || b === undefined || c === undefined || [a, b, c].some((o) => o > 255)) {
    throw new RangeError(`subnet "${cidr}" is not of the form A.B.C.0/24`);
  }
  const isPrivate = a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  if (!isPrivate) throw new RangeError(`subnet "${cidr}" is not a private (RFC 1918) range: the testbed never routes anywhere else`);
  return `${a}.${b}.${c}`;
}

/** Prefixes of every IPv4 /24 the host already has an address in (those are off limits). */
export async function hostSubnetPrefixes(): Promise<Set<string>> {
  const out = await runOk('ip', ['-o', '-4', 'addr', 'show']);
  const prefixes = new Set<string>();
  for (const m of out.matchAll(/inet (\d+\.\d+\.\d+)\.\d+\//g)) if (m[1]) prefixes.add(m[1]);
  return prefixes;
}

export async function bridgeUp(bridge: string, subnetPrefix: string): Promise<void> {
  await runOk('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await runOk('ip', ['addr', 'add', `${subnetPrefix}.1/24`, 'dev', bridge]);
  await runOk('ip', ['link', 'set', bridge, 'up']);
}

export async function nodeNetUp(net: NodeNet, bridge: string): Promise<void> {
  await runOk('ip', ['netns', 'add', net.netns]);
  await runOk('ip', ['link', 'add', net.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', net.netns]);
  await runOk('ip', ['link', 'set', net.veth, 'master', bridge, 'up']);
  await runOk('ip', ['-n', net.netns, 'addr', 'add', `${net.ip}/24`, 'dev', 'eth0']);
  await runOk('ip', ['-n', net.netns, 'link', 'set', 'lo', 'up']);
  await runOk('ip', ['-n', net.netns, 'link', 'set', 'eth0', 'up']);
}

/** Best effort and synchronous (also runs from an exit handler); deleting the veth also deletes its peer. */
export function nodeNetDownSync(net: Pick<NodeNet, 'netns' | 'veth'>): void {
  runQuietSync('ip', ['link', 'del', net.veth]);
  runQuietSync('ip', ['netns', 'del', net.netns]);
}

export function bridgeDownSync(bridge: string): void {
  runQuietSync('ip', ['link', 'del', bridge]);
}

const INOTIFY = '/proc/sys/fs/inotify/max_user_instances';

export async function inotifyLimit(): Promise<number> {
  return Number.parseInt(await readFile(INOTIFY, 'utf8'), 10);
}

/** Inotify instances open right now on the whole machine (all users; an upper bound for ours). */
export async function inotifyInUse(): Promise<number> {
  const out = await runOk('sh', ['-c', "find /proc/[0-9]*/fd -lname 'anon_inode:inotify' 2>/dev/null | wc -l || true"]);
  return Number.parseInt(out.trim(), 10) || 0;
}

export function setInotifyLimitSync(value: number): void {
  runQuietSync('sysctl', ['-qw', `fs.inotify.max_user_instances=${value}`]);
}
