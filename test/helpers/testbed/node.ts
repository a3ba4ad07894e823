import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createCgroups } from './cgroups.js';
import { childrenOfSync, forceCleanNodeSync, type NodeRecord, nspawnPidFile } from './cleanup.js';
import { type ExecResult, run, runOk, sleep } from './exec.js';
import { nodeNetUp } from './network.js';

/** A host path bind-mounted into every node. */
export interface Bind {
  host: string;
  node: string;
  /** @default false */
  readOnly?: boolean;
}

export interface NodeSpec extends NodeRecord {
  bridge: string;
  rootfs: string;
  binds: Bind[];
  bootTimeoutMs: number;
}

export interface NodeExecOptions {
  /** @default 60_000 */
  timeoutMs?: number;
  input?: string;
}

export interface TestbedNode {
  name: string;
  ip: string;
  /** Host path of the node's root file system (an overlay): the host can drop files in here. */
  rootDir: string;
  /** The node's console (nspawn's output and the boot log), for debugging. */
  consoleLog: string;
  /** How long the first boot took until `running`. */
  bootMs: number;
  /** The node's PID 1 as seen from the host, if it is running. */
  leaderPid(): number | undefined;
  /** Runs a command inside the node (all its namespaces, clean environment). */
  exec(cmd: string[], opts?: NodeExecOptions): Promise<ExecResult>;
  /** `systemctl reboot` inside the node; resolves with the ms it took until `running` again. */
  reboot(): Promise<number>;
  /** Clean poweroff, then removes the node's mounts, network and cgroups. Safe to call twice. */
  stop(): Promise<void>;
}

const NODE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** nspawn exits with 133 when the container asked for a reboot. */
const REBOOT_EXIT = 133;
const STOP_GRACE_MS = 30_000;
// Moves this shell into the node's cgroups, then becomes nspawn (same pid).
const CGROUP_THEN_NSPAWN =
  'IFS=:; for d in $STEMS_TB_CGROUPS; do echo $$ > "$d/cgroup.procs" || exit 97; done; unset IFS STEMS_TB_CGROUPS; exec systemd-nspawn "$@"';

function nspawnArgs(spec: NodeSpec): string[] {
  const args = [
    `--directory=${join(spec.dir, 'root')}`,
    '--boot',
    // No system bus or machined on the host: no registration, and no scope unit.
    '--register=no',
    '--keep-unit',
    `--machine=${spec.name}`,
    `--hostname=${spec.name}`,
    // Without an explicit network option nspawn would share the host's network.
    `--network-namespace-path=/run/netns/${spec.net.netns}`,
    // read-only gives the full boot log ('pipe' gives none).
    '--console=read-only',
    '--setenv=SYSTEMD_COLORS=0',
  ];
  for (const b of spec.binds) args.push(`${b.readOnly ? '--bind-ro' : '--bind'}=${b.host}:${b.node}`);
  return args;
}

function tail(path: string, chars = 3000): string {
  return existsSync(path) ? readFileSync(path, 'utf8').slice(-chars) : '';
}

/**
 * Boots one node: overlay root (shared read-only rootfs + per-node upper),
 * netns + veth, own cgroup, and a supervisor that starts nspawn again when
 * the node reboots. Resolves once systemd inside says `running`.
 */
export async function startNode(spec: NodeSpec): Promise<TestbedNode> {
  const t0 = Date.now();
  const rootDir = join(spec.dir, 'root');
  const consoleLog = join(spec.dir, 'console.log');
  for (const sub of ['upper', 'work', 'root']) await mkdir(join(spec.dir, sub), { recursive: true });
  const record: NodeRecord = { name: spec.name, dir: spec.dir, net: spec.net, cgroups: spec.cgroups };
  // Recorded before anything is created, so a crash at any later point can be cleaned up.
  writeFileSync(join(spec.dir, 'node.json'), JSON.stringify(record));
  const lower = spec.rootfs;
  await runOk('mount', [
    '-t',
    'overlay',
    `stems-${spec.name}`,
    '-o',
    `lowerdir=${lower},upperdir=${spec.dir}/upper,workdir=${spec.dir}/work`,
    rootDir,
  ]);
  await nodeNetUp(spec.net, spec.bridge);
  await createCgroups(spec.cgroups);

  let child: ChildProcess | undefined;
  let stopping = false;
  let stopped = false;
  let onDown: (() => void) | undefined;
  const down = new Promise<void>((resolve) => {
    onDown = resolve;
  });

  const launch = (): void => {
    const out = openSync(consoleLog, 'a');
    const proc = spawn('sh', ['-c', CGROUP_THEN_NSPAWN, 'sh', ...nspawnArgs(spec)], {
      env: { ...process.env, STEMS_TB_CGROUPS: spec.cgroups.join(':') },
      stdio: ['ignore', out, out],
      detached: true,
    });
    closeSync(out);
    // The test process must be able to exit even if a test forgot teardown; the exit handler cleans up.
    proc.unref();
    child = proc;
    if (proc.pid !== undefined) writeFileSync(nspawnPidFile(spec.dir), String(proc.pid));
    proc.on('exit', (code, signal) => {
      appendFileSync(consoleLog, `\n=== [testbed] systemd-nspawn exited code=${code} signal=${signal}\n`);
      if (code === REBOOT_EXIT && !stopping) {
        launch();
        return;
      }
      child = undefined;
      onDown?.();
    });
  };

  const leaderPid = (): number | undefined => {
    const pid = child?.pid;
    return pid === undefined ? undefined : childrenOfSync(pid)[0];
  };

  const exec = (cmd: string[], opts: NodeExecOptions = {}): Promise<ExecResult> => {
    const leader = leaderPid();
    if (leader === undefined) return Promise.reject(new Error(`node ${spec.name} is not running`));
    const env = ['env', '-i', `PATH=${NODE_PATH}`, 'LANG=C.UTF-8', 'HOME=/root', 'TERM=dumb'];
    return run('nsenter', ['-t', String(leader), '-a', ...env, ...cmd], opts);
  };

  /** Until systemd inside reports `running`; other final states fail with the failed units. */
  const waitRunning = async (notLeader?: number): Promise<void> => {
    const deadline = Date.now() + spec.bootTimeoutMs;
    let state = '';
    while (Date.now() < deadline) {
      if (!child) throw new Error(`node ${spec.name}: nspawn exited during boot\n${tail(consoleLog)}`);
      const leader = leaderPid();
      if (leader !== undefined && leader !== notLeader && existsSync(`/proc/${leader}/root/run/systemd/private`)) {
        const waitMs = Math.max(1000, deadline - Date.now());
        const r = await exec(['timeout', String(Math.ceil(waitMs / 1000)), 'systemctl', 'is-system-running', '--wait'], {
          timeoutMs: waitMs + 5000,
        });
        state = r.stdout.trim();
        if (state === 'running') return;
        if (state === 'degraded') {
          const failed = await exec(['systemctl', '--failed', '--no-legend']);
          throw new Error(`node ${spec.name} booted degraded; failed units:\n${failed.stdout}`);
        }
      }
      await sleep(50);
    }
    throw new Error(`node ${spec.name} not running after ${spec.bootTimeoutMs} ms (state "${state}")\n${tail(consoleLog)}`);
  };

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopping = true;
    const proc = child;
    if (proc) {
      const leader = leaderPid();
      // SIGRTMIN+4 to systemd = `systemctl poweroff`: the full, clean shutdown.
      if (leader !== undefined) await run('kill', ['-s', 'RTMIN+4', String(leader)]);
      // Still starting (no PID 1 yet): nspawn turns SIGTERM into a clean halt of the container.
      else proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
      await down;
      clearTimeout(timer);
    }
    forceCleanNodeSync(record);
    stopped = true;
  };

  launch();
  try {
    await waitRunning();
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    name: spec.name,
    ip: spec.net.ip,
    rootDir,
    consoleLog,
    bootMs: Date.now() - t0,
    leaderPid,
    exec,
    stop,
    async reboot() {
      const r0 = Date.now();
      const old = leaderPid();
      // The connection to PID 1 may drop as it goes down: the exit code says nothing.
      await exec(['systemctl', 'reboot']);
      await waitRunning(old);
      return Date.now() - r0;
    },
  };
}
