import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon, enroll, loadAgentConfig, Outbox } from '@stems/agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// the agent's silent logger (pino is the packages' dependency, not the root's)
import { silent } from '../../packages/agent/src/daemon/_test-fixtures.js';
import { type GitHttpServer, type GitRepo, makeGitRepo, serveGitHttp } from '../helpers/git-http.js';
import { assertBuilt, eventually, freePort, HUB_BIN, type Daemon as Process, runCli, runOk, startDaemon } from '../helpers/processes.js';

/**
 * The hub away for longer than a bundle lives, on a simulated clock: the real
 * hub process (real clock), and the real agent daemon in this process with an
 * injected clock (DaemonOptions.now) that jumps past the bundle's expiry while
 * the hub is down. The agent must keep enforcing its last good bundle, keep
 * queueing drift reports, and say `stale` once the hub is back; the hub must
 * get the queued reports and show the node stale. No real hours pass.
 */

const NODE = 'projector';
const FILES = {
  'cluster.yaml': `apiVersion: stems/v1
cluster: colab
vars: { greeting: hello }
nodes:
  ${NODE}: {}
groups:
  all: { roles: [base] }
`,
  'roles/base/role.yaml': `resources:
  - file: /etc/motd
    content: "{{vars.greeting}} from {{node.name}}\\n"
    mode: "0644"
`,
};
const MOTD = `hello from ${NODE}\n`;

interface NodeJson {
  name: string;
  state: string;
  serial: number;
  stale: boolean;
  health: object | null;
}
interface DriftJson {
  id: string;
  status: string;
  detectedAt: string;
  serial: number;
}

describe('the hub away past the bundle expiry (simulated clock)', () => {
  let repo: GitRepo | undefined;
  let gitServer: GitHttpServer | undefined;
  let hub: Process | undefined;
  let daemon: Daemon | undefined;
  let work = '';
  let hubUrl = '';
  /** Simulated time = real time + skewMs; the agent's only clock. */
  let skewMs = 0;
  const hubEnv = () => ({ STEMS_HUB_DATA: join(work, 'hub') });
  const hubCli = (...args: string[]) => runOk(HUB_BIN, args, hubEnv());
  const node = async (): Promise<NodeJson | undefined> =>
    (JSON.parse((await runCli(HUB_BIN, ['status', '--json'], { env: hubEnv() })).stdout).nodes as NodeJson[]).find((n) => n.name === NODE);
  const startHub = async () => {
    hub = startDaemon(HUB_BIN, ['serve'], hubEnv());
    await hub.waitFor(/hub listening/);
  };
  const motd = () => join(work, 'agent', 'root', 'etc/motd');
  const queued = async () => new Outbox(join(work, 'agent', 'state')).list();

  beforeAll(async () => {
    assertBuilt();
    work = await mkdtemp(join(tmpdir(), 'stems-stale-'));
    repo = await makeGitRepo(FILES, 'first');
    gitServer = await serveGitHttp(repo.dir);
    const listen = `127.0.0.1:${await freePort()}`;
    hubUrl = `http://${listen}`;
    await hubCli('init', '--repo', gitServer.url, '--listen', listen, '--fetch-interval', '1h', '--bundle-lifetime', '7d');
    await startHub();
  }, 60_000);

  afterAll(async () => {
    await daemon?.stop();
    await hub?.stop();
    await gitServer?.close();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('is not stale while its bundle is valid', async () => {
    const configPath = join(work, 'agent', 'agent.yaml');
    await enroll({
      hubUrl,
      hubKey: (await hubCli('key')).trim(),
      joinToken: JSON.parse(await hubCli('join-token', 'create', '--json')).token,
      name: NODE,
      configPath,
      stateDir: join(work, 'agent', 'state'),
      rootDir: join(work, 'agent', 'root'),
      connect: false,
      agentVersion: '0.0.0-test',
      log: silent,
    });
    const text = await readFile(configPath, 'utf8');
    await writeFile(configPath, `${text}intervals:\n  healthMs: 300\n  pingMs: 1000\n  backoffMinMs: 100\n  backoffMaxMs: 500\n`);
    const { config } = await loadAgentConfig(configPath);
    if (!config) throw new Error(`the enrolled agent.yaml does not load: ${configPath}`);
    daemon = await Daemon.start({
      config,
      log: silent,
      agentVersion: '0.0.0-test',
      now: () => new Date(Date.now() + skewMs),
    });
    await hubCli('sync');
    await eventually(async () => (JSON.parse(await hubCli('revisions', '--json')).length > 0 ? true : undefined), 'the first revision');
    await eventually(async () => (daemon?.connected ? true : undefined), 'the agent connected');
    await hubCli('approve', 'latest');
    await eventually(async () => (daemon?.lastSerial === 1 ? true : undefined), 'serial 1 applied');
    expect(await readFile(motd(), 'utf8')).toBe(MOTD);
    const seen = await eventually(async () => {
      const n = await node();
      return n?.state === 'converged' && n.health !== null ? n : undefined;
    }, 'a heartbeat after the apply');
    expect(seen.stale).toBe(false);
  }, 60_000);

  it('keeps enforcing and queueing drift after expiry, then the hub gets the reports and shows the node stale', async () => {
    const bundle = JSON.parse(await readFile(join(work, 'agent', 'state', 'bundle.json'), 'utf8'));
    const expiresAt = Date.parse(JSON.parse(bundle.payload).expiresAt);
    await hub?.stop();
    await eventually(async () => (daemon?.connected ? undefined : true), 'the agent sees the hub gone');

    // eight days without the hub, in one step of the agent's clock
    skewMs = expiresAt + 86_400_000 - Date.now();
    await writeFile(motd(), 'edited by hand\n');
    await eventually(async () => ((await readFile(motd(), 'utf8')) === MOTD ? true : undefined), 'the hand edit repaired');
    const drift = (await queued()).flatMap((i) => (i.type === 'drift' ? i.payload.items : []));
    expect(drift).toEqual([
      expect.objectContaining({ id: 'file:/etc/motd', status: 'drifted' }),
      expect.objectContaining({ id: 'file:/etc/motd', status: 'repaired' }),
    ]);
    // seen on the simulated clock: after the bundle expired
    for (const d of drift) expect(Date.parse(d.detectedAt)).toBeGreaterThan(expiresAt);

    await startHub();
    await eventually(async () => ((await queued()).length === 0 ? true : undefined), 'the queue delivered', 15_000);
    const token = JSON.parse(await hubCli('token', 'create', '--role', 'viewer', '--json')).token as string;
    const res = await fetch(`${hubUrl}/api/v1/nodes/${NODE}/drift`, { headers: { authorization: `Bearer ${token}` } });
    const events = (await res.json()) as DriftJson[];
    expect(events.map((e) => [e.id, e.status, e.serial])).toEqual([
      ['file:/etc/motd', 'repaired', 1],
      ['file:/etc/motd', 'drifted', 1],
    ]);
    const back = await eventually(async () => {
      const n = await node();
      return n?.stale ? n : undefined;
    }, 'the node stale on the hub');
    // still on its last good bundle, which it keeps enforcing
    expect(back).toMatchObject({ state: 'converged', serial: 1, stale: true });
    expect(await hubCli('status').catch((err: Error) => err.message)).toMatch(/stale \(bundle expired[^\n]*\n {2}projector/);
  }, 60_000);
});
