import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeGitRepo, type RepoFiles } from '../git-http.js';
import { assertBuilt, type Daemon, freePort, HUB_BIN, runOk, startDaemon } from '../processes.js';
import type { NodeIdentity } from './light-agent.js';
import { registerNodes } from './nodes.js';

/** A real `hub serve` process that can be killed and restarted on the same port and data dir. */
export interface SwarmHub {
  url: string;
  hubKey: string;
  dataDir: string;
  /** The git repository the hub fetches (commit to it, then `hub sync`). */
  repoDir: string;
  /** Hub CLI environment (STEMS_HUB_DATA). */
  env: { STEMS_HUB_DATA: string };
  daemon: Daemon;
  /** Starts `hub serve` (again) and resolves once it listens. */
  start(): Promise<void>;
  /** Stops the hub with `signal` (SIGKILL: no goodbye at all) and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** The hub process's memory in bytes: resident now and its peak (VmHWM). */
  memory(): Promise<{ rss: number; peak: number }>;
  /** CPU time of the hub process so far (user + system), in ms. */
  cpuMs(): Promise<number>;
  cleanup(): Promise<void>;
}

/** Clock ticks per second in /proc/<pid>/stat (USER_HZ: 100 on every Linux Node supports). */
const USER_HZ = 100;

/**
 * `hub init` on a git repo of `files`, the nodes put on record as accepted
 * (set-up: registerNodes), then `hub serve`. Needs `pnpm build`.
 */
export async function startSwarmHub(opts: {
  work: string;
  files: RepoFiles;
  nodes: readonly NodeIdentity[];
  serveArgs?: string[];
  /** Node options for `hub serve` only, e.g. ['--cpu-prof', '--cpu-prof-dir', DIR] (a SIGTERM'd hub writes its profile). */
  nodeArgs?: string[];
}): Promise<SwarmHub> {
  assertBuilt();
  const repo = await makeGitRepo(opts.files, 'swarm');
  const dataDir = join(opts.work, 'hub');
  const env = { STEMS_HUB_DATA: dataDir };
  const listen = `127.0.0.1:${await freePort()}`;
  await runOk(HUB_BIN, ['init', '--repo', repo.dir, '--listen', listen, '--fetch-interval', '1h'], env);
  registerNodes(dataDir, opts.nodes);
  const hubKey = (await runOk(HUB_BIN, ['key'], env)).trim();
  // Through `node` explicitly (the bin is a node script) so node options reach the hub alone.
  const serve = () => startDaemon(process.execPath, [...(opts.nodeArgs ?? []), HUB_BIN, 'serve', ...(opts.serveArgs ?? [])], env);
  const status = async () => readFile(`/proc/${hub.daemon.child.pid}/status`, 'utf8');
  const kib = (text: string, field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? Number.NaN) * 1024;
  const hub: SwarmHub = {
    url: `http://${listen}`,
    hubKey,
    dataDir,
    repoDir: repo.dir,
    env,
    daemon: serve(),
    async start() {
      if (hub.daemon.child.exitCode !== null || hub.daemon.child.signalCode !== null) {
        hub.daemon = serve();
      }
      await hub.daemon.waitFor(/hub listening/, 30_000);
    },
    async kill(signal) {
      await hub.daemon.stop(signal);
    },
    async memory() {
      const text = await status();
      return { rss: kib(text, 'VmRSS'), peak: kib(text, 'VmHWM') };
    },
    async cpuMs() {
      // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
      const stat = await readFile(`/proc/${hub.daemon.child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
    },
    async cleanup() {
      await hub.daemon.stop('SIGKILL');
      await repo.cleanup();
    },
  };
  await hub.start();
  return hub;
}

/** A valid one-role cluster naming every node (no resources): enough for a hub to serve agents. */
export function idleCluster(nodes: readonly NodeIdentity[]): RepoFiles {
  const list = nodes.map((n) => `  ${n.name}: {}`).join('\n');
  return {
    'cluster.yaml': `apiVersion: stems/v1\ncluster: swarm\nnodes:\n${list}\ngroups:\n  all: { roles: [idle] }\n`,
    'roles/idle/role.yaml': 'resources: []\n',
  };
}
