import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentState } from '@stems/agent';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNeeding } from '../helpers/capabilities.js';
import { commitFiles, type GitHttpServer, type GitRepo, makeGitRepo, serveGitHttp } from '../helpers/git-http.js';
import {
  AGENT_BIN,
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
import { type PartitionNet, partitionNet } from './_netns.js';

/**
 * A network partition with real processes: the real hub on the host, three
 * real `stems-agent run` daemons, each in its own network namespace joined to
 * the hub by a veth pair on a bridge. Two nodes are cut off (host end of their
 * veth down) while a new revision is approved; they must not get it while cut
 * off, the hub must show them offline, and once the links return they must
 * converge on it within a bound that follows from the agent's intervals.
 * STEMS_SOAK=1 holds the partition for minutes instead of seconds.
 */

const NAMES = ['alpha', 'beta', 'gamma'] as const;
const CUT = ['beta', 'gamma'] as const;
const SOAK = process.env.STEMS_SOAK === '1';

// Short agent intervals so the test takes seconds (agent.yaml `intervals`).
// The safety-net poll runs every 2 s too: a connected node is handed the
// bundle it holds again and again, and must stay converged.
const INTERVALS = { healthMs: 500, pingMs: 1000, backoffMinMs: 200, backoffMaxMs: 2000, stableMs: 5000, pollMs: 2000 };
/** The agent's websocket upgrade timeout (connection/client.ts default; not in agent.yaml). */
const AGENT_CONNECT_TIMEOUT_MS = 10_000;
/** Time for the bundle pull, apply and report after the welcome (loaded, shared CI machine). */
const APPLY_SLACK_MS = 5_000;
/**
 * After the link returns, an agent reconnects at the latest when its current
 * attempt (at most the connect timeout) has failed and the next backoff delay
 * (at most backoffMaxMs) has passed; then pull, apply, report.
 */
const CONVERGE_BOUND_MS = AGENT_CONNECT_TIMEOUT_MS + INTERVALS.backoffMaxMs + APPLY_SLACK_MS;
/** How long the two nodes stay cut off: several backoff caps, so they are retrying at the cap. */
const PARTITION_MS = SOAK ? 180_000 : 8_000;

const cluster = (version: string) => ({
  'cluster.yaml': `apiVersion: stems/v1
cluster: lab
vars: { version: "${version}" }
nodes:
${NAMES.map((n) => `  ${n}: {}`).join('\n')}
groups:
  all: { roles: [base] }
`,
  'roles/base/role.yaml': `resources:
  - directory: /etc/app
  - file: /etc/app/app.conf
    content: "node = {{node.name}}\\nversion = {{vars.version}}\\n"
    mode: "0644"
`,
});

interface NodeJson {
  name: string;
  state: string;
  serial: number;
  revision: string | null;
}

describeNeeding(['root', 'netns'], 'a network partition while a new bundle is approved', () => {
  let net: PartitionNet | undefined;
  let repo: GitRepo | undefined;
  let gitServer: GitHttpServer | undefined;
  let hub: Daemon | undefined;
  const agents = new Map<string, Daemon>();
  let work = '';
  const figures: Record<string, number | string> = {};
  const hubEnv = () => ({ STEMS_HUB_DATA: join(work, 'hub') });
  const hubCli = (...args: string[]) => runOk(HUB_BIN, args, hubEnv());
  // `hub status` exits 1 while a node is offline: the JSON is what counts
  const nodes = async (): Promise<NodeJson[]> => JSON.parse((await runCli(HUB_BIN, ['status', '--json'], { env: hubEnv() })).stdout).nodes;
  const agentEnv = (node: string) => ({
    STEMS_AGENT_CONFIG: join(work, node, 'agent.yaml'),
    STEMS_AGENT_STATE: join(work, node, 'state'),
    STEMS_AGENT_ROOT: join(work, node, 'root'),
  });
  const appConf = (node: string) => readFile(join(agentEnv(node).STEMS_AGENT_ROOT, 'etc/app/app.conf'), 'utf8');
  const index = (node: string) => NAMES.indexOf(node as (typeof NAMES)[number]);
  const converged = (names: readonly string[], serial: number, timeoutMs: number) =>
    eventually(
      async () => {
        const ours = (await nodes()).filter((n) => names.includes(n.name));
        return ours.length === names.length && ours.every((n) => n.state === 'converged' && n.serial === serial) ? ours : undefined;
      },
      `${names.join(', ')} converged at serial ${serial}`,
      timeoutMs,
      100,
    ).catch(async (err: Error) => {
      const logs = [...agents].map(([n, a]) => `--- ${n}\n${a.output().slice(-2500)}`).join('\n');
      throw new Error(`${err.message}\nstatus: ${JSON.stringify(await nodes())}\n${logs}\n--- hub\n${hub?.output().slice(-2500)}`);
    });
  const waitRevision = (commit: string) => waitForRevision(hubCli, commit);

  beforeAll(async () => {
    assertBuilt();
    work = await mkdtemp(join(tmpdir(), 'stems-partition-'));
    net = await partitionNet(NAMES.length);
    repo = await makeGitRepo(cluster('1'), 'v1');
    gitServer = await serveGitHttp(repo.dir); // loopback: only the hub fetches
    // the hub listens on its bridge address only: the nodes' one way in
    const listen = `${net.hostIp}:${await freePort()}`;
    await hubCli('init', '--repo', gitServer.url, '--listen', listen, '--fetch-interval', '1h');
    hub = startDaemon(HUB_BIN, ['serve'], hubEnv());
    await hub.waitFor(/hub listening/);
    const key = (await hubCli('key')).trim();
    const enrollAndRun = async (node: (typeof NAMES)[number], ns: string) => {
      const token = JSON.parse(await hubCli('join-token', 'create', '--json')).token as string;
      const env = agentEnv(node);
      await runOk(AGENT_BIN, ['enroll', '--hub', `http://${listen}`, '--hub-key', key, '--token', token, '--name', node, '--offline'], env);
      await appendFile(
        env.STEMS_AGENT_CONFIG,
        `intervals:\n${Object.entries(INTERVALS)
          .map(([k, v]) => `  ${k}: ${v}\n`)
          .join('')}`,
      );
      // `ip netns exec` execs the agent in place: the child is the agent itself
      agents.set(node, startDaemon('ip', ['netns', 'exec', ns, AGENT_BIN, 'run'], env));
    };
    await Promise.all(NAMES.map((node, i) => enrollAndRun(node, net?.nodes[i]?.netns ?? '')));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    await hub?.stop();
    net?.destroy();
    await gitServer?.close();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
    console.info(`partition figures: ${JSON.stringify(figures)}`);
  }, 60_000);

  it('enrolls three agents over their veths and converges them on the first revision', async () => {
    await hubCli('sync');
    expect((await waitRevision(repo?.head ?? '')).state).toBe('valid');
    await eventually(async () => {
      const list = JSON.parse(await hubCli('nodes', '--json')) as { state: string }[];
      return list.filter((n) => n.state === 'accepted').length === NAMES.length ? list : undefined;
    }, 'all nodes accepted');
    await hubCli('approve', 'latest', '--note', 'v1');
    await converged(NAMES, 1, 60_000);
    for (const node of NAMES) expect(await appConf(node)).toBe(`node = ${node}\nversion = 1\n`);
  }, 90_000);

  it(
    'keeps cut-off nodes on their bundle while a new one is approved, and converges them after the links return',
    async () => {
      for (const node of CUT) await net?.cut(index(node));
      const cutAt = Date.now();
      const cutOff = async () => (await nodes()).filter((n) => (CUT as readonly string[]).includes(n.name));
      // no heartbeat for 3 health periods: the hub shows them offline
      await eventually(
        async () => ((await cutOff()).every((n) => n.state === 'offline') ? true : undefined),
        'the cut-off nodes offline on the hub',
        15_000,
        100,
      );
      figures.offlineAfterMs = Date.now() - cutAt;

      const second = await commitFiles(repo?.dir ?? '', cluster('2'), 'v2');
      await hubCli('sync');
      await waitRevision(second);
      await hubCli('approve', 'latest', '--note', 'v2 during the partition');
      // the connected node gets it; the cut-off ones cannot
      await converged(['alpha'], 2, 30_000);
      expect((await cutOff()).map((n) => [n.state, n.serial])).toEqual([
        ['offline', 1],
        ['offline', 1],
      ]);
      const rest = PARTITION_MS - (Date.now() - cutAt);
      if (rest > 0) await new Promise((r) => setTimeout(r, rest));
      for (const node of CUT) {
        expect(await appConf(node)).toBe(`node = ${node}\nversion = 1\n`);
        expect(await new AgentState(agentEnv(node).STEMS_AGENT_STATE).lastSerial()).toBe(1); // never even accepted
      }
      expect((await nodes()).filter((n) => n.serial === 2).map((n) => n.name)).toEqual(['alpha']);

      for (const node of CUT) await net?.heal(index(node));
      const healedAt = Date.now();
      figures.partitionMs = healedAt - cutAt;
      const after = await converged(NAMES, 2, CONVERGE_BOUND_MS);
      figures.convergeAfterHealMs = Date.now() - healedAt;
      figures.boundMs = CONVERGE_BOUND_MS;
      figures.nodes = `${NAMES.length} (${CUT.length} cut off)`;
      expect(after.every((n) => n.revision === second)).toBe(true);
      for (const node of NAMES) expect(await appConf(node)).toBe(`node = ${node}\nversion = 2\n`);
    },
    60_000 + PARTITION_MS + CONVERGE_BOUND_MS,
  );
});
