import { randomBytes, randomInt } from 'node:crypto';
import { runOk } from '../helpers/testbed/exec.js';
import {
  bridgeDownSync,
  bridgeName,
  bridgeUp,
  hostSubnetPrefixes,
  type NodeNet,
  nodeNet,
  nodeNetDownSync,
  nodeNetUp,
} from '../helpers/testbed/network.js';

/**
 * A small private network for partition tests, built from the testbed's
 * bridge and veth helpers (no containers): a bridge on the host holding
 * `<prefix>.1` (where the hub listens) and per node a network namespace whose
 * eth0 is one end of a veth pair on that bridge. Nodes have no default route:
 * they reach the bridge subnet and nothing else. Taking the host end of a
 * node's veth down cuts that node off; up again heals it.
 */
export interface PartitionNet {
  /** `<prefix>.1`, the host's address on the bridge. */
  hostIp: string;
  nodes: NodeNet[];
  /** Host end of node i's veth down: its packets go nowhere until heal(i). */
  cut(index: number): Promise<void>;
  heal(index: number): Promise<void>;
  /** Deletes the links and namespaces (idempotent, synchronous, also runs at process exit). */
  destroy(): void;
}

/**
 * The testbed takes 10.213.x.0/24; these tests take 10.214.x.0/24, a random
 * one the host has no address in, so two runs (or the testbed) hardly ever
 * meet; the names carry a random run id so they never collide.
 */
async function freeSubnet(): Promise<string> {
  const taken = await hostSubnetPrefixes();
  for (let i = 0; i < 32; i++) {
    const prefix = `10.214.${randomInt(0, 256)}`;
    if (!taken.has(prefix)) return prefix;
  }
  throw new Error('no free 10.214.x.0/24 subnet for the partition test: remove leftover stbr* bridges (ip -br link)');
}

export async function partitionNet(count: number): Promise<PartitionNet> {
  const runId = randomBytes(3).toString('hex');
  const prefix = await freeSubnet();
  const bridge = bridgeName(runId);
  const nodes = Array.from({ length: count }, (_, i) => nodeNet(runId, prefix, i + 1));
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    for (const n of nodes) nodeNetDownSync(n);
    bridgeDownSync(bridge);
    process.off('exit', destroy);
  };
  // a worker that dies without afterAll still leaves nothing behind
  process.on('exit', destroy);
  try {
    await bridgeUp(bridge, prefix);
    for (const n of nodes) await nodeNetUp(n, bridge);
  } catch (err) {
    destroy();
    throw err;
  }
  const veth = (index: number): string => {
    const n = nodes[index];
    if (!n) throw new RangeError(`no node ${index} in this partition net`);
    return n.veth;
  };
  return {
    hostIp: `${prefix}.1`,
    nodes,
    cut: async (index) => {
      await runOk('ip', ['link', 'set', veth(index), 'down']);
    },
    heal: async (index) => {
      await runOk('ip', ['link', 'set', veth(index), 'up']);
    },
    destroy,
  };
}
