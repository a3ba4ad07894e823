import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { forceCleanRunSync, type RunRecord, readPid, readRunRecord } from './cleanup.js';
import { alive } from './exec.js';
import { bridgeName, hostSubnetPrefixes, parseSubnet } from './network.js';

/**
 * Every boot is a "run" with a random id: its bridge, netns, veths and
 * cgroups are all named after it, so two runs (two test files, two checkouts)
 * never collide. `<baseDir>/runs/<id>/owner.pid` says which process owns it;
 * a run whose owner is dead is cleaned up by the next one.
 */

/** Subnets tried in order when none is given: 10.213.77.0/24 … 10.213.126.0/24. */
const FIRST_OCTET = 77;
const SUBNET_CHOICES = 50;

function runsDir(baseDir: string): string {
  return join(baseDir, 'runs');
}

interface RunEntry {
  dir: string;
  ownerAlive: boolean;
  record?: RunRecord;
}

export function listRuns(baseDir: string): RunEntry[] {
  const root = runsDir(baseDir);
  if (!existsSync(root)) return [];
  return readdirSync(root).map((id) => {
    const dir = join(root, id);
    const owner = readPid(join(dir, 'owner.pid'));
    return { dir, ownerAlive: owner !== undefined && alive(owner), record: readRunRecord(dir) };
  });
}

/** Cleans up runs whose owning process died without a teardown (killed worker, crash). Returns how many. */
export function sweepDeadRuns(baseDir: string): number {
  const dead = listRuns(baseDir).filter((r) => !r.ownerAlive);
  for (const r of dead) forceCleanRunSync(r.dir);
  return dead.length;
}

/** Picks the subnet (call under the network lock): the one asked for, or the first free one. */
async function chooseSubnet(baseDir: string, wanted: string | undefined): Promise<string> {
  const taken = await hostSubnetPrefixes();
  for (const r of listRuns(baseDir)) if (r.record) taken.add(r.record.subnetPrefix);
  if (wanted !== undefined) {
    const prefix = parseSubnet(wanted);
    if (taken.has(prefix)) throw new Error(`subnet ${wanted} is already in use on this host (another testbed run or an interface)`);
    return prefix;
  }
  for (let i = 0; i < SUBNET_CHOICES; i++) {
    const prefix = `10.213.${FIRST_OCTET + i}`;
    if (!taken.has(prefix)) return prefix;
  }
  throw new Error('no free 10.213.x.0/24 subnet for the testbed: tear down old runs (see docs/testbed.md)');
}

/** Registers a new run (call under the network lock so two runs never pick the same subnet). */
export async function createRun(baseDir: string, wantedSubnet: string | undefined): Promise<{ dir: string; record: RunRecord }> {
  const runId = randomBytes(3).toString('hex');
  const dir = join(runsDir(baseDir), runId);
  const subnetPrefix = await chooseSubnet(baseDir, wantedSubnet);
  await mkdir(join(dir, 'nodes'), { recursive: true });
  await writeFile(join(dir, 'owner.pid'), String(process.pid));
  const record: RunRecord = { runId, bridge: bridgeName(runId), subnetPrefix };
  await writeFile(join(dir, 'run.json'), JSON.stringify(record));
  return { dir, record };
}
