import { appendFile, chmod, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signRequest } from '@stems/hub';
import { generateKeyPair, readKeyFile, writeKeyFile } from '@stems/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, type GitHttpServer, type GitRepo, makeGitRepo, serveGitHttp } from '../helpers/git-http.js';
import { AGENT_BIN, assertBuilt, type Daemon, eventually, freePort, HUB_BIN, runCli, runOk, startDaemon } from '../helpers/processes.js';

// The reconcile stage across real processes: a real hub, two real agents
// (alpha enforces drift, beta only reports it), every check through the
// hub's API or `hub status` as a user or a monitoring script would.

/** Agent health period in these tests: offline after 3 missed = 3 s (room for a loaded machine). */
const HEALTH_MS = 1000;

const files = (appConf: string) => ({
  'cluster.yaml': `apiVersion: stems/v1
cluster: lab
nodes:
  alpha: {}
  beta: { policy: { drift: report } }
groups:
  all: { roles: [base] }
`,
  'roles/base/role.yaml': `resources:
  - directory: /etc/app
  - file: /etc/app/app.conf
    content: "${appConf}"
    mode: "0640"
  - file: /etc/motd
    content: "hello {{node.name}}\\n"
`,
});

interface NodeJson {
  name: string;
  state: string;
  serial: number;
  drift: number;
  drifted: { id: string; aspects: string[]; diff?: string }[];
  health: { load1: number } | null;
}
interface StatusJson {
  cluster: string;
  branch: string;
  nodes: NodeJson[];
}
interface DriftEvent {
  id: string;
  status: 'drifted' | 'repaired' | 'cleared';
  aspects: string[];
  detectedAt: string;
  clearedAt?: string;
  diff?: string;
}

describe('drift in seconds, health and hub status across real processes', () => {
  let repo: GitRepo;
  let gitServer: GitHttpServer;
  let work: string;
  let hub: Daemon | undefined;
  let hubUrl: string;
  /** An admin token: the test's own reads and writes go through the API (each CLI start costs seconds on a loaded machine). */
  let token: string;
  const agents = new Map<string, Daemon>();
  const hubEnv = () => ({ STEMS_HUB_DATA: join(work, 'hub'), STEMS_AGENT_CONFIG: join(work, 'no-agent.yaml') });
  const agentEnv = (node: string) => ({
    STEMS_AGENT_CONFIG: join(work, node, 'agent.yaml'),
    STEMS_AGENT_STATE: join(work, node, 'state'),
    STEMS_AGENT_ROOT: join(work, node, 'root'),
  });
  const rootOf = (node: string) => agentEnv(node).STEMS_AGENT_ROOT;
  const hubCli = (...args: string[]) => runOk(HUB_BIN, args, hubEnv());
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${hubUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const post = async <T>(path: string, body?: object): Promise<T> => {
    const res = await fetch(`${hubUrl}/api/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  // the lifecycle test covers sync and approve through the CLI
  const approve = async (commit: string) => {
    await post('/sync');
    await post('/approvals', { rev: commit });
  };
  const nodeOf = async (name: string) => (await api<StatusJson>('/status')).nodes.find((n) => n.name === name);
  const driftOf = (name: string) => api<DriftEvent[]>(`/nodes/${name}/drift`);
  const startAgent = (node: string) => agents.set(node, startDaemon(AGENT_BIN, ['run'], agentEnv(node)));
  const logs = async () =>
    `status: ${JSON.stringify(await api('/status'))}\n${[...agents].map(([n, a]) => `--- ${n}\n${a.output().slice(-3000)}`).join('\n')}`;
  /** Polls every 100 ms (as the brief asks) and returns the value and the time it took. */
  const timed = async <T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 10_000) => {
    const t0 = performance.now();
    const value = await eventually(check, what, timeoutMs, 100).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await logs()}`);
    });
    return { value, ms: performance.now() - t0 };
  };
  const converged = (serial: number) =>
    timed(
      async () => {
        const s = await api<StatusJson>('/status');
        return s.nodes.length === 2 && s.nodes.every((n) => n.state === 'converged' && n.serial === serial) ? s : undefined;
      },
      `both nodes converged at serial ${serial}`,
      30_000,
    );

  beforeAll(async () => {
    assertBuilt();
    work = await mkdtemp(join(tmpdir(), 'stems-drift-'));
    repo = await makeGitRepo(files('port = 1\\n'), 'first');
    gitServer = await serveGitHttp(repo.dir);
    const listen = `127.0.0.1:${await freePort()}`;
    hubUrl = `http://${listen}`;
    await hubCli('init', '--repo', gitServer.url, '--listen', listen, '--fetch-interval', '5s');
    hub = startDaemon(HUB_BIN, ['serve'], hubEnv());
    await hub.waitFor(/hub listening/);
    token = JSON.parse(await hubCli('token', 'create', '--role', 'admin', '--json')).token;
    const key = (await hubCli('key')).trim();
    for (const node of ['alpha', 'beta']) {
      const { token: join_ } = await post<{ token: string }>('/join-tokens', {});
      await runOk(AGENT_BIN, ['enroll', '--hub', hubUrl, '--hub-key', key, '--token', join_, '--name', node, '--offline'], agentEnv(node));
      // short periods keep the test fast: health every 500 ms, a full re-check every 3 s
      await appendFile(
        agentEnv(node).STEMS_AGENT_CONFIG,
        `intervals:\n  healthMs: ${HEALTH_MS}\n  driftMs: 3000\n  driftDebounceMs: 150\n`,
      );
      startAgent(node);
    }
    await eventually(
      async () => ((await api<{ state: string }[]>('/nodes')).filter((n) => n.state === 'accepted').length === 2 ? true : undefined),
      'both nodes accepted',
    );
    await approve(repo.head);
    await converged(1);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    await hub?.stop();
    await gitServer?.close();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('the agents’ own applies are never drift, also while the watcher is on', async () => {
    const second = await commitFiles(repo.dir, files('port = 2\\n'), 'second');
    await approve(second);
    await converged(2);
    expect(await readFile(join(rootOf('alpha'), 'etc/app/app.conf'), 'utf8')).toBe('port = 2\n');
    // a watcher burst takes ~150 ms and a check a few ms: wait well past both
    await new Promise((r) => setTimeout(r, 1000));
    expect(await driftOf('alpha')).toEqual([]);
    expect(await driftOf('beta')).toEqual([]);
    const cli = await runCli(HUB_BIN, ['status', '--json'], { env: hubEnv() });
    expect(cli.code, cli.stderr).toBe(0); // all converged
    expect(JSON.parse(cli.stdout)).toMatchObject({ cluster: 'lab', branch: 'main', pendingRevisions: 0 });
  });

  it('enforce: a hand edit is seen within 2 s and repaired; the node returns to converged', async () => {
    const motd = join(rootOf('alpha'), 'etc/motd');
    await writeFile(motd, 'vandalised\n');
    const seen = await timed(
      async () => (await driftOf('alpha')).find((e) => e.id === 'file:/etc/motd' && e.status === 'drifted'),
      'drift',
    );
    expect(seen.ms).toBeLessThan(2000);
    expect(seen.value.aspects).toEqual(['content']);
    expect(seen.value.diff).toContain('+hello alpha');
    await timed(async () => ((await driftOf('alpha')).some((e) => e.status === 'repaired') ? true : undefined), 'repair');
    expect(await readFile(motd, 'utf8')).toBe('hello alpha\n');
    await timed(async () => ((await nodeOf('alpha'))?.state === 'converged' ? true : undefined), 'alpha converged');
  });

  it('report: a hand edit makes the node drifted within 2 s, with the diff in hub status --json, until it matches again', async () => {
    const conf = join(rootOf('beta'), 'etc/app/app.conf');
    await writeFile(conf, 'port = 9\n');
    const seen = await timed(async () => {
      const n = await nodeOf('beta');
      return n?.state === 'drifted' ? n : undefined;
    }, 'beta drifted');
    expect(seen.ms).toBeLessThan(2000);
    // past a full re-check (3 s): still drifted, the file left as the human made it
    await new Promise((r) => setTimeout(r, 3500));
    const cli = await runCli(HUB_BIN, ['status', '--json'], { env: hubEnv() });
    expect(cli.code).toBe(1); // drifted: a monitoring script sees it
    const beta = (JSON.parse(cli.stdout) as StatusJson).nodes.find((n) => n.name === 'beta');
    expect(beta).toMatchObject({ state: 'drifted', drift: 1, drifted: [{ id: 'file:/etc/app/app.conf', aspects: ['content'] }] });
    expect(beta?.drifted[0]?.diff).toMatch(/-port = 2\n\+port = 9|-port = 9\n\+port = 2/);
    expect(await readFile(conf, 'utf8')).toBe('port = 9\n');
    expect((await driftOf('beta')).filter((e) => e.status === 'drifted')).toHaveLength(1);
    const human = await runCli(HUB_BIN, ['status'], { env: hubEnv() });
    expect(human.stdout).toMatch(/beta\s+drifted\s+2\s+[0-9a-f]{12}\s+1\s/);
    expect(human.stdout).toContain('beta  file:/etc/app/app.conf  (content');
    expect(human.stdout).not.toContain('\u001b['); // no colour off a TTY

    await writeFile(conf, 'port = 2\n'); // the human puts it back
    await timed(async () => ((await nodeOf('beta'))?.state === 'converged' ? true : undefined), 'beta converged');
    expect((await driftOf('beta'))[0]).toMatchObject({ status: 'cleared', id: 'file:/etc/app/app.conf' });
    expect((await runCli(HUB_BIN, ['status', '--json'], { env: hubEnv() })).code).toBe(0);
  });

  it('a chmod is drift of aspect mode; a new apply clears open drift on the hub', async () => {
    const conf = join(rootOf('beta'), 'etc/app/app.conf');
    await chmod(conf, 0o666);
    const seen = await timed(async () => {
      const n = await nodeOf('beta');
      return n?.state === 'drifted' ? n : undefined;
    }, 'beta drifted by mode');
    expect(seen.ms).toBeLessThan(2000);
    expect(seen.value.drifted).toEqual([expect.objectContaining({ id: 'file:/etc/app/app.conf', aspects: ['mode'] })]);
    const third = await commitFiles(repo.dir, files('port = 3\\n'), 'third');
    await approve(third);
    const s = await converged(3);
    expect(s.value.nodes.every((n) => n.drift === 0)).toBe(true);
    expect((await stat(conf)).mode & 0o777).toBe(0o640);
  });

  it('an editor-style burst (write temp, rename over, chmod) is exactly one drift event', async () => {
    const before = (await driftOf('alpha')).length;
    const conf = join(rootOf('alpha'), 'etc/app/app.conf');
    const temp = join(rootOf('alpha'), 'etc/app/.app.conf.swp');
    await writeFile(temp, 'port = 42\n');
    await rename(temp, conf);
    await chmod(conf, 0o644);
    await timed(async () => ((await driftOf('alpha')).some((e) => e.status === 'repaired' && e.clearedAt) ? true : undefined), 'repair');
    await new Promise((r) => setTimeout(r, 1000)); // the repair's own writes must not start another drift
    const all = await driftOf('alpha');
    const events = all.slice(0, all.length - before); // newest first
    expect(events.map((e) => `${e.id} ${e.status}`).sort()).toEqual(['file:/etc/app/app.conf drifted', 'file:/etc/app/app.conf repaired']);
    expect(events.find((e) => e.status === 'drifted')?.aspects.sort()).toEqual(['content', 'mode']);
    expect(await readFile(conf, 'utf8')).toBe('port = 3\n');
    expect((await stat(conf)).mode & 0o777).toBe(0o640);
  });

  it('hub status works from a node with only its agent config, and a tampered signature is refused', async () => {
    const nodeEnv = { ...agentEnv('alpha'), STEMS_HUB_DATA: join(work, 'not-a-hub') };
    const fromNode = await runCli(HUB_BIN, ['status', '--json'], { env: nodeEnv });
    expect(fromNode.code, fromNode.stderr).toBe(0);
    expect((JSON.parse(fromNode.stdout) as StatusJson).nodes.map((n) => n.name)).toEqual(['alpha', 'beta']);

    // the same request by hand: signed right it passes, one flipped signature byte and it is refused
    const { secretKey } = await readKeyFile(join(agentEnv('alpha').STEMS_AGENT_STATE, 'node.key'));
    const headers = signRequest({ method: 'GET', path: '/api/v1/status', node: 'alpha', secretKey });
    expect((await fetch(`${hubUrl}/api/v1/status`, { headers })).status).toBe(200);
    const sig = Buffer.from(headers['x-stems-signature'] ?? '', 'base64');
    sig[0] = (sig[0] ?? 0) ^ 0xff;
    const tampered = await fetch(`${hubUrl}/api/v1/status`, { headers: { ...headers, 'x-stems-signature': sig.toString('base64') } });
    expect(tampered.status).toBe(401);
    expect(((await tampered.json()) as { error: { code: string } }).error.code).toBe('STEMS_AUTH_REQUIRED');

    // and through the CLI: a node key that is not the accepted one signs nothing the hub believes
    const forged = join(work, 'forged-state');
    await writeKeyFile(join(forged, 'node.key'), generateKeyPair());
    const refused = await runCli(HUB_BIN, ['status', '--json'], { env: { ...nodeEnv, STEMS_AGENT_STATE: forged } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('STEMS_AUTH_REQUIRED');
  });

  it('hub status --watch prints frames until SIGINT', async () => {
    const watch = startDaemon(HUB_BIN, ['status', '--watch', '--interval', '300ms'], hubEnv());
    await eventually(async () => ((watch.output().match(/cluster lab/g)?.length ?? 0) >= 2 ? true : undefined), 'two frames', 10_000);
    await watch.stop('SIGINT');
    expect(watch.child.exitCode).toBe(0);
    expect(watch.output()).toMatch(/alpha\s+converged/);
    const bad = await runCli(HUB_BIN, ['status', '--watch', '--interval', 'soon'], { env: hubEnv() });
    expect(bad.code).toBe(2);
  });

  it('a killed agent is offline after 3 missed heartbeats and back online when it restarts', async () => {
    const alpha = agents.get('alpha');
    const health = (await nodeOf('alpha'))?.health;
    expect(health?.load1).toBeGreaterThanOrEqual(0);
    await alpha?.stop('SIGKILL');
    const killedAt = performance.now();
    const off = await timed(async () => ((await nodeOf('alpha'))?.state === 'offline' ? true : undefined), 'alpha offline');
    const afterKillMs = performance.now() - killedAt;
    // not at the socket's close but once 3 periods have passed since the last word (lastSeen ≤ the kill)
    expect(afterKillMs).toBeGreaterThan(HEALTH_MS);
    expect(off.ms).toBeLessThan(3 * HEALTH_MS + 2000);
    const cli = await runCli(HUB_BIN, ['status', '--json'], { env: hubEnv() });
    expect(cli.code).toBe(1);
    expect((JSON.parse(cli.stdout) as StatusJson).nodes.find((n) => n.name === 'beta')?.state).toBe('converged');

    startAgent('alpha');
    await timed(async () => ((await nodeOf('alpha'))?.state === 'converged' ? true : undefined), 'alpha back online', 15_000);
    expect((await runCli(HUB_BIN, ['status', '--json'], { env: hubEnv() })).code).toBe(0);
  });
});
