import { createHash } from 'node:crypto';
import { appendFile, copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNeeding } from '../helpers/capabilities.js';
import { commitFiles, type GitHttpServer, type GitRepo, makeGitRepo, type RepoFiles, serveGitHttp } from '../helpers/git-http.js';
import {
  assertBuilt,
  type Daemon,
  eventually,
  freePort,
  HUB_BIN,
  runCli,
  runOk,
  startDaemon,
  waitForRevision,
} from '../helpers/processes.js';
import { bootNodes, ensureRootfs, type Testbed, type TestbedNode, teardown } from '../helpers/testbed/index.js';

/**
 * A real cluster: the real hub process on the host, three Debian nodes with
 * systemd (the nspawn testbed) joined with the one-line install served by the
 * hub, the desired state from examples/colab over git's smart HTTP, and every
 * step through the `hub` CLI: approve, a staged rollout, a hub killed with -9,
 * a rollback, a node reboot, an in-place agent upgrade and an uninstall; plain
 * `hub status` on the nodes themselves, a unit stopped by hand and repaired,
 * and a unit restarted through `notify` by a change of the file it reads.
 */

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const NAMES = ['cooperator', 'projector', 'director'] as const;
const METRICS_ROLE = 'roles/node-metrics/role.yaml';

interface StatusJson {
  nodes: { name: string; state: string; serial: number; revision: string | null; lastSeen: string | null }[];
}

interface DriftEvent {
  id: string;
  status: 'drifted' | 'repaired' | 'cleared';
  aspects: string[];
  detectedAt: string;
}

/** examples/colab as the cluster's repository, unchanged (its sysctl handlers skip nodes without procps). */
async function colabFiles(dir: string): Promise<RepoFiles> {
  const files: RepoFiles = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = relative(dir, join(entry.parentPath, entry.name));
    files[path] = await readFile(join(entry.parentPath, entry.name), 'utf8');
  }
  return files;
}

async function ok(node: TestbedNode, cmd: string[], timeoutMs?: number): Promise<string> {
  const r = await node.exec(cmd, timeoutMs ? { timeoutMs } : {});
  if (r.code !== 0) throw new Error(`${node.name}: ${cmd.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

const mainPid = async (node: TestbedNode, unit: string) => Number(await ok(node, ['systemctl', 'show', '-p', 'MainPID', '--value', unit]));
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

describeNeeding(['root', 'netns', 'nspawn'], 'a real cluster: one-line install on systemd nodes', () => {
  let tb: Testbed | undefined;
  let repo: GitRepo | undefined;
  let gitServer: GitHttpServer | undefined;
  let hub: Daemon | undefined;
  let work = '';
  let hubUrl = '';
  const timings: Record<string, number> = {};
  const started = Date.now();
  // the hub serves its own copy of the agent bundle, so the upgrade test can change it
  const hubEnv = () => ({ STEMS_HUB_DATA: join(work, 'hub'), STEMS_AGENT_BUNDLE: join(work, 'stems-agent.mjs') });
  const hubCli = (...args: string[]) => runOk(HUB_BIN, args, hubEnv());
  // `hub status` exits 1 while a node is failed, drifted or offline: the JSON is what counts here
  const status = async (): Promise<StatusJson> => JSON.parse((await runCli(HUB_BIN, ['status', '--json'], { env: hubEnv() })).stdout);
  const byName = (name: string): TestbedNode => {
    const node = tb?.nodes[NAMES.indexOf(name as (typeof NAMES)[number])];
    if (!node) throw new Error(`no testbed node for ${name}`);
    return node;
  };
  const startHub = async () => {
    hub = startDaemon(HUB_BIN, ['serve'], hubEnv());
    await hub.waitFor(/hub listening/);
  };
  /** Every named node converged on `commit` (and optionally at `serial`). */
  const converged = (names: readonly string[], commit: string, timeoutMs = 60_000) =>
    eventually(
      async () => {
        const s = await status();
        const ours = s.nodes.filter((n) => names.includes(n.name));
        return ours.length === names.length && ours.every((n) => n.state === 'converged' && n.revision === commit) ? s : undefined;
      },
      `${names.join(', ')} converged on ${commit.slice(0, 10)}`,
      timeoutMs,
      250,
    ).catch(async (err: Error) => {
      const journals = await Promise.all(
        NAMES.map(async (n) => `--- ${n}\n${(await byName(n).exec(['journalctl', '-u', 'stems-agent', '--no-pager', '-n', '40'])).stdout}`),
      );
      throw new Error(
        `${err.message}\nstatus: ${JSON.stringify(await status())}\n${journals.join('\n')}\n--- hub\n${hub?.output().slice(-3000)}`,
      );
    });
  const install = async (name: string, args: string[]) => {
    const pipeline = `curl -fsSL ${hubUrl}/install.sh | sh -s -- ${args.join(' ')}`;
    return byName(name).exec(['sh', '-c', pipeline], { timeoutMs: 60_000 });
  };
  const joinToken = async () => JSON.parse(await hubCli('join-token', 'create', '--json')).token as string;
  const waitRevision = (commit: string) => waitForRevision(hubCli, commit);
  /** GET /api/v1/nodes/:name/drift with the local admin token `hub serve` wrote. */
  const driftEvents = async (name: string): Promise<DriftEvent[]> => {
    const token = (await readFile(join(work, 'hub', 'local-admin.token'), 'utf8')).trim();
    const res = await fetch(`${hubUrl}/api/v1/nodes/${name}/drift`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`drift events of ${name}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as DriftEvent[];
  };

  beforeAll(async () => {
    assertBuilt();
    const rootfs = await ensureRootfs();
    if (rootfs.builtMs !== undefined) timings.rootfsBuildMs = rootfs.builtMs;
    // one more node for the hub installer; the checkout is visible (read-only) in all of them
    tb = await bootNodes({
      count: NAMES.length + 1,
      prefix: 'colab-',
      binds: [{ host: repoRoot, node: '/mnt/stems-src', readOnly: true }],
    });
    timings.bootMs = tb.bootMs;
    work = await mkdtemp(join(tmpdir(), 'stems-cluster-'));
    await copyFile(join(repoRoot, 'packages/agent/dist/stems-agent.mjs'), join(work, 'stems-agent.mjs')).catch(() => {
      throw new Error('the agent bundle is not built: run `pnpm build` before the end-to-end tests');
    });
    repo = await makeGitRepo(await colabFiles(join(repoRoot, 'examples/colab')), 'colab: first');
    // The hub runs on the host, so it fetches over loopback; the nodes reach only the hub.
    gitServer = await serveGitHttp(repo.dir);
    hubUrl = `http://${tb.hostIp}:${await freePort()}`;
    await hubCli('init', '--repo', gitServer.url, '--listen', hubUrl.slice('http://'.length), '--fetch-interval', '5s');
    await startHub();
  }, 600_000);

  afterAll(async () => {
    await hub?.stop();
    await teardown();
    await gitServer?.close();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
    timings.totalMs = Date.now() - started;
    console.info(`cluster-nspawn timings: ${JSON.stringify(timings)}`);
  }, 120_000);

  it('refuses a bundle whose sha256 is not the pinned one, and installs nothing', async () => {
    const node = byName('cooperator');
    const tampered = `curl -fsSL ${hubUrl}/install.sh | sed "s/^STEMS_AGENT_SHA256=.*/STEMS_AGENT_SHA256='${'0'.repeat(64)}'/" | sh -s -- --token x`;
    const r = await node.exec(['sh', '-c', tampered]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/sha256 is [0-9a-f]{64}, but this script expects 0{64}: nothing was installed/);
    const left = await node.exec([
      'sh',
      '-c',
      'ls -d /opt/stems/agent /usr/local/bin/stems-agent /usr/local/bin/hub /etc/stems /etc/systemd/system/stems-agent.service',
    ]);
    expect(left.stdout).toBe('');
  });

  it('says which Node.js to install when there is none, and stops', async () => {
    // hide the bind-mounted node in a private mount namespace
    const noNode = `unshare -m sh -c 'mount -t tmpfs none /usr/local/bin && curl -fsSL ${hubUrl}/install.sh | sh -s -- --token x'`;
    const r = await byName('cooperator').exec(['sh', '-c', noNode]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Node.js 20 or newer is needed and was not found');
  });

  it('joins three nodes with `curl … | sh` and a join token each', async () => {
    const t0 = Date.now();
    const results = await Promise.all(NAMES.map(async (name) => install(name, ['--token', await joinToken(), '--name', name])));
    timings.installAllMs = Date.now() - t0;
    for (const [i, r] of results.entries()) expect(r.code, `${NAMES[i]}: ${r.stdout}\n${r.stderr}`).toBe(0);
    for (const name of NAMES) {
      const node = byName(name);
      expect(await ok(node, ['systemctl', 'is-enabled', 'stems-agent'])).toBe('enabled');
      expect(await ok(node, ['systemctl', 'is-active', 'stems-agent'])).toBe('active');
      expect(await ok(node, ['stems-agent', '--version'])).toMatch(/^\d+\.\d+\.\d+$/);
      expect(await ok(node, ['hub', '--version'])).toMatch(/^\d+\.\d+\.\d+$/);
    }
    const nodes = await eventually(async () => {
      const list = JSON.parse(await hubCli('nodes', '--json')) as { name: string; state: string }[];
      return list.filter((n) => n.state === 'accepted').length === NAMES.length ? list : undefined;
    }, 'all nodes accepted');
    expect(nodes.map((n) => n.name).sort()).toEqual([...NAMES].sort());
  }, 120_000);

  it('approves the first revision: every node converges with node-metrics enabled and running', async () => {
    const first = repo?.head ?? '';
    expect((await waitRevision(first)).state).toBe('valid');
    expect(await hubCli('diff', 'latest')).toContain('node-metrics.service');
    const t0 = Date.now();
    await hubCli('approve', 'latest', '--note', 'first rollout');
    await converged(NAMES, first);
    timings.approveToConvergedMs = Date.now() - t0;
    for (const name of NAMES) {
      const node = byName(name);
      expect(await ok(node, ['systemctl', 'is-enabled', 'node-metrics.service'])).toBe('enabled');
      expect(await ok(node, ['systemctl', 'is-active', 'node-metrics.service'])).toBe('active');
      expect(await ok(node, ['cat', '/etc/systemd/system/node-metrics.service'])).toContain('sleep 15');
    }
  }, 90_000);

  it('on a node, plain `hub status` finds the hub in the agent config and signs with the node key: read-only', async () => {
    const first = repo?.head ?? '';
    const t0 = Date.now();
    for (const name of NAMES) {
      const r = await byName(name).exec(['hub', 'status', '--json']);
      expect(r.code, `${name}: ${r.stdout}\n${r.stderr}`).toBe(0);
      const s = JSON.parse(r.stdout) as StatusJson;
      expect(s.nodes.map((n) => `${n.name} ${n.state} ${n.revision}`).sort()).toEqual(NAMES.map((n) => `${n} converged ${first}`).sort());
    }
    timings.nodeHubStatusMs = Math.round((Date.now() - t0) / NAMES.length);
    const node = byName('cooperator');
    expect(await ok(node, ['hub', 'status'])).toMatch(/cooperator\s+converged/);
    expect(await ok(node, ['hub', 'revisions', '--json'])).toContain(first);
    // a node key reads; it never approves
    const write = await node.exec(['hub', 'approve', 'latest', '--json']);
    expect(write.code).toBe(1);
    expect(write.stderr).toMatch(/"code":\s*"STEMS_AUTH_(FORBIDDEN|REQUIRED)"/);
    // what needs the hub's data dir says it runs on the hub host (the node's `hub` has no SQLite)
    const serve = await node.exec(['hub', 'serve']);
    expect(serve.code).toBe(1);
    expect(serve.stderr).toContain('STEMS_HUB_NOT_INITIALIZED: This command needs the hub data dir, so it runs on the hub host only');
  }, 60_000);

  it('rolls a unit change out to one node, survives kill -9 of the hub, then to the rest, and rolls back', async () => {
    const first = repo?.head ?? '';
    const dir = repo?.dir ?? '';
    const before = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await mainPid(byName(n), 'node-metrics.service')])));
    const role = (await readFile(join(dir, METRICS_ROLE), 'utf8')).replace('metrics_interval_sec: 15', 'metrics_interval_sec: 5');
    const second = await commitFiles(dir, { [METRICS_ROLE]: role }, 'metrics every 5 s');
    await hubCli('sync');
    await waitRevision(second);
    expect(await hubCli('diff', second.slice(0, 10))).toMatch(/-.*sleep 15[\s\S]*\+.*sleep 5/);

    await hubCli('approve', second.slice(0, 10), '--nodes', 'cooperator', '--note', 'canary');
    await converged(['cooperator'], second);
    const coop = byName('cooperator');
    expect(await ok(coop, ['cat', '/etc/systemd/system/node-metrics.service'])).toContain('sleep 5');
    expect(await mainPid(coop, 'node-metrics.service')).not.toBe(before.cooperator);
    const rest = NAMES.filter((n) => n !== 'cooperator');
    expect((await status()).nodes.filter((n) => rest.includes(n.name as (typeof rest)[number])).map((n) => n.revision)).toEqual([
      first,
      first,
    ]);

    // kill -9 mid-rollout: the agents reconnect to the new process by themselves
    await hub?.stop('SIGKILL');
    const restartedAt = new Date().toISOString();
    await startHub();
    await eventually(
      async () => ((await status()).nodes.every((n) => (n.lastSeen ?? '') > restartedAt) ? true : undefined),
      'every agent back on the restarted hub',
      30_000,
      250,
    );
    timings.hubKillToReconnectedMs = Date.now() - Date.parse(restartedAt);
    await hubCli('approve', second.slice(0, 10), '--nodes', rest.join(','), '--note', 'the rest');
    await converged(NAMES, second);
    for (const name of rest) expect(await mainPid(byName(name), 'node-metrics.service')).not.toBe(before[name]);

    await hubCli('rollback', '--to', first.slice(0, 10), '--note', 'back');
    await converged(NAMES, first);
    for (const name of NAMES) {
      const node = byName(name);
      expect(await ok(node, ['cat', '/etc/systemd/system/node-metrics.service'])).toContain('sleep 15');
      expect(await ok(node, ['systemctl', 'is-active', 'node-metrics.service'])).toBe('active');
    }
  }, 150_000);

  it('a rebooted node comes back with its agent and stays converged', async () => {
    const node = byName('projector');
    const serial = (await status()).nodes.find((n) => n.name === 'projector')?.serial;
    timings.rebootMs = await node.reboot();
    const back = new Date().toISOString();
    expect(await ok(node, ['systemctl', 'is-active', 'stems-agent'])).toBe('active');
    expect(await ok(node, ['systemctl', 'is-active', 'node-metrics.service'])).toBe('active');
    const s = await eventually(
      async () => {
        const n = (await status()).nodes.find((x) => x.name === 'projector');
        return n && (n.lastSeen ?? '') > back && n.state === 'converged' ? n : undefined;
      },
      'projector seen again after its reboot',
      30_000,
      250,
    );
    expect(s.serial).toBe(serial);
  }, 60_000);

  it('re-running the install upgrades in place to a new bundle: same key, no re-enroll, agent restarted', async () => {
    const node = byName('director');
    const bundle = join(work, 'stems-agent.mjs');
    await appendFile(bundle, '// a newer build\n');
    const newSha = sha256(await readFile(bundle));
    const identity = ['sha256sum', '/etc/stems/agent.yaml', '/var/lib/stems-agent/node.key'];
    const identityBefore = await ok(node, identity);
    const pidBefore = await mainPid(node, 'stems-agent');
    // an outdated hub client on the node: the re-run replaces it with the one the hub serves
    await ok(node, ['sh', '-c', "echo '// an older build' >> /opt/stems/agent/hub.mjs"]);
    const clientSha = sha256(await readFile(join(repoRoot, 'packages/hub/dist/hub.mjs')));
    const r = await install('director', []);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('already enrolled');
    expect(await ok(node, identity)).toBe(identityBefore);
    expect(await ok(node, ['sha256sum', '/opt/stems/agent/stems-agent.mjs'])).toBe(`${newSha}  /opt/stems/agent/stems-agent.mjs`);
    expect(await ok(node, ['sha256sum', '/opt/stems/agent/hub.mjs'])).toBe(`${clientSha}  /opt/stems/agent/hub.mjs`);
    expect(await mainPid(node, 'stems-agent')).not.toBe(pidBefore);
    await converged(['director'], repo?.head ?? '');
  }, 60_000);

  it('uninstalls (keeping key and state), and the one-line install brings the node back converged', async () => {
    const node = byName('director');
    const off = await install('director', ['--uninstall']);
    expect(off.code, off.stderr).toBe(0);
    const gone = await node.exec([
      'sh',
      '-c',
      'ls -d /opt/stems/agent /usr/local/bin/stems-agent /usr/local/bin/hub /etc/systemd/system/stems-agent.service',
    ]);
    expect(gone.stdout).toBe('');
    expect(await ok(node, ['ls', '/var/lib/stems-agent', '/etc/stems/agent.yaml'])).toContain('agent.yaml');
    const t0 = Date.now();
    const on = await install('director', []);
    expect(on.code, on.stderr).toBe(0);
    const since = new Date(t0).toISOString();
    await eventually(
      async () => {
        const n = (await status()).nodes.find((x) => x.name === 'director');
        return n && (n.lastSeen ?? '') > since && n.state === 'converged' ? n : undefined;
      },
      'director back and converged',
      30_000,
      250,
    );
    timings.reinstallToConvergedMs = Date.now() - t0;
    expect(await ok(node, ['hub', 'status'])).toMatch(/director\s+converged/);
  }, 60_000);

  it('an enforce node repairs a unit stopped by hand; the hub saw it drifted (unit state), then repaired', async () => {
    const node = byName('cooperator');
    // a stopped unit is seen by the full re-check only (every 5 min by default): every second on this node, for this test
    const config = '/etc/stems/agent.yaml';
    await ok(node, ['sh', '-c', `cp ${config} ${config}.orig && printf 'intervals:\\n  driftMs: 1000\\n' >> ${config}`]);
    await ok(node, ['systemctl', 'restart', 'stems-agent']);
    try {
      // the agent enforces its bundle once at start: a unit stopped before that is no drift
      const pid = await mainPid(node, 'stems-agent');
      await eventually(
        async () =>
          (await node.exec(['sh', '-c', `journalctl _PID=${pid} -o cat | grep -q '"apply finished"'`])).code === 0 ? true : undefined,
        'the restarted agent done with its enforce at start',
        20_000,
        250,
      );
      const since = new Date().toISOString();
      const t0 = Date.now();
      await ok(node, ['systemctl', 'stop', 'node-metrics.service']);
      const events = await eventually(
        async () => {
          const ours = (await driftEvents('cooperator')).filter((e) => e.id === 'unit:node-metrics.service' && e.detectedAt >= since);
          return ours.some((e) => e.status === 'repaired') ? ours : undefined;
        },
        'node-metrics.service drifted and repaired on cooperator',
        30_000,
        250,
      ).catch(async (err: Error) => {
        const journal = (await node.exec(['journalctl', '-u', 'stems-agent', '--no-pager', '-n', '60'])).stdout;
        throw new Error(`${err.message}\nsince ${since}, drift events: ${JSON.stringify(await driftEvents('cooperator'))}\n${journal}`);
      });
      timings.unitStopToRepairedMs = Date.now() - t0;
      expect(events.find((e) => e.status === 'drifted')?.aspects).toContain('unit-state');
      expect(await ok(node, ['systemctl', 'is-active', 'node-metrics.service'])).toBe('active');
      await converged(['cooperator'], repo?.head ?? '');
    } finally {
      await ok(node, ['sh', '-c', `mv -f ${config}.orig ${config} && systemctl restart stems-agent`]);
    }
  }, 60_000);

  it('a change to the file a unit reads restarts it through notify, and the unit file stays as it was', async () => {
    const dir = repo?.dir ?? '';
    const invocation = (node: TestbedNode) => ok(node, ['systemctl', 'show', '-p', 'InvocationID', '--value', 'node-metrics.service']);
    const unitSum = (node: TestbedNode) => ok(node, ['sha256sum', '/etc/systemd/system/node-metrics.service']);
    const before = await Promise.all(NAMES.map(async (n) => ({ id: await invocation(byName(n)), unit: await unitSum(byName(n)) })));
    // the role as the nodes run it now (the first revision) with only the unit's environment file changed
    const role = (await readFile(join(repoRoot, 'examples/colab', METRICS_ROLE), 'utf8')).replace(
      'metrics_file: metrics.prom',
      'metrics_file: node.prom',
    );
    expect(role).toContain('metrics_file: node.prom');
    const third = await commitFiles(dir, { [METRICS_ROLE]: role }, 'metrics into node.prom');
    await hubCli('sync');
    await waitRevision(third);
    const diff = await hubCli('diff', third.slice(0, 10));
    expect(diff).toContain('~ file:/etc/default/node-metrics');
    expect(diff).not.toContain('unit:node-metrics.service');
    const t0 = Date.now();
    await hubCli('approve', third.slice(0, 10), '--note', 'metrics file');
    await converged(NAMES, third);
    timings.notifyApproveToConvergedMs = Date.now() - t0;
    for (const [i, name] of NAMES.entries()) {
      const node = byName(name);
      expect(await ok(node, ['cat', '/etc/default/node-metrics'])).toContain('METRICS_FILE=/var/lib/node-metrics/node.prom');
      expect(await unitSum(node), name).toBe(before[i]?.unit);
      expect(await invocation(node), name).not.toBe(before[i]?.id);
      expect(await ok(node, ['systemctl', 'is-active', 'node-metrics.service'])).toBe('active');
      await eventually(
        async () => ((await node.exec(['grep', '-q', '^node_load1 ', '/var/lib/node-metrics/node.prom'])).code === 0 ? true : undefined),
        `${name}: the restarted unit writes node.prom`,
        10_000,
        250,
      );
    }
  }, 90_000);

  it('installs a hub from a built checkout with install-hub.sh, running as stems-hub', async () => {
    const node = tb?.nodes[NAMES.length];
    if (!node) throw new Error('no node for the hub');
    const t0 = Date.now();
    const setup = ['sh', '/mnt/stems-src/systemd/install-hub.sh', '--src', '/mnt/stems-src', '--repo', 'http://127.0.0.1:9/none.git'];
    const r = await node.exec(setup, { timeoutMs: 120_000 });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    timings.hubInstallMs = Date.now() - t0;
    expect(await ok(node, ['systemctl', 'is-active', 'stems-hub'])).toBe('active');
    expect(await ok(node, ['systemctl', 'show', '-p', 'User', '--value', 'stems-hub'])).toBe('stems-hub');
    expect(await ok(node, ['stat', '-c', '%U %a', '/var/lib/stems-hub/hub.key'])).toBe('stems-hub 600');
    const key = await ok(node, ['hub', 'key']);
    const script = await eventually(async () => {
      const res = await node.exec(['curl', '-fsS', 'http://127.0.0.1:7400/install.sh']);
      return res.code === 0 ? res.stdout : undefined;
    }, 'install.sh from the installed hub');
    expect(script).toContain(`STEMS_HUB_KEY='${key}'`);
    expect(JSON.parse(await ok(node, ['hub', 'join-token', 'create', '--json'])).token).toMatch(/\S{16,}/);
    // again: an upgrade in place that keeps the data dir
    const again = await node.exec(setup, { timeoutMs: 120_000 });
    expect(again.stdout).toContain('already initialised');
    expect(await ok(node, ['hub', 'key'])).toBe(key);
    const off = await node.exec(['sh', '/mnt/stems-src/systemd/install-hub.sh', '--uninstall']);
    expect(off.code, off.stderr).toBe(0);
    expect((await node.exec(['systemctl', 'is-active', 'stems-hub'])).stdout.trim()).not.toBe('active');
    expect((await node.exec(['ls', '-d', '/opt/stems/src', '/usr/local/bin/hub'])).stdout).toBe('');
    expect(await ok(node, ['ls', '/var/lib/stems-hub'])).toContain('hub.key');
  }, 240_000);
});
