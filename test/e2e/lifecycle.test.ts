import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, type GitHttpServer, type GitRepo, makeGitRepo, serveGitHttp } from '../helpers/git-http.js';
import { AGENT_BIN, assertBuilt, type Daemon, eventually, freePort, HUB_BIN, runCli, runOk, startDaemon } from '../helpers/processes.js';

// The "apply" half of the lifecycle as a user runs it: a real hub process
// following a repo over git's smart HTTP, two real agent processes with their
// own roots, every step through the CLIs.

const cluster = (motdExtra: string) => ({
  'cluster.yaml': `apiVersion: stems/v1
cluster: lab
vars: { greeting: hello }
nodes:
  alpha: { vars: { port: 8001 } }
  beta: { vars: { port: 8002 } }
groups:
  all: { roles: [base] }
`,
  'roles/base/role.yaml': `resources:
  - directory: /etc/app
  - file: /etc/app/app.conf
    content: "port = {{vars.port}}\\ngreeting = {{vars.greeting}}\\n"
    mode: "0640"
  - file: /etc/motd
    template: motd.hbs
  - symlink: /etc/app/current
    target: /etc/app/app.conf
`,
  'roles/base/files/motd.hbs': `{{node.name}} on {{facts.hostname}}${motdExtra}\n`,
});

interface StatusJson {
  nodes: { name: string; state: string; serial: number; revision: string | null }[];
}

describe('lifecycle across real processes', () => {
  let repo: GitRepo;
  let gitServer: GitHttpServer;
  let work: string;
  let hub: Daemon | undefined;
  const agents: Daemon[] = [];
  let hubUrl: string;
  let listen: string;
  const hubEnv = () => ({ STEMS_HUB_DATA: join(work, 'hub') });
  const agentEnv = (node: string) => ({
    STEMS_AGENT_CONFIG: join(work, node, 'agent.yaml'),
    STEMS_AGENT_STATE: join(work, node, 'state'),
    STEMS_AGENT_ROOT: join(work, node, 'root'),
  });
  const hubCli = (...args: string[]) => runOk(HUB_BIN, args, hubEnv());
  const status = async (): Promise<StatusJson> => JSON.parse(await hubCli('status', '--json'));
  const startHub = async () => {
    hub = startDaemon(HUB_BIN, ['serve', '--log-level', 'debug'], hubEnv());
    await hub.waitFor(/hub listening/);
  };
  const converged = (serial: number) =>
    eventually(
      async () => {
        const s = await status();
        return s.nodes.length === 2 && s.nodes.every((n) => n.state === 'converged' && n.serial === serial) ? s : undefined;
      },
      `both nodes converged at serial ${serial}`,
      30_000,
      250,
    ).catch(async (err: Error) => {
      // the processes' own words are what explains a failure here
      const logs = agents.map((a, i) => `--- agent ${i}\n${a.output().slice(-3000)}`).join('\n');
      throw new Error(`${err.message}\nstatus: ${JSON.stringify(await status())}\n${logs}\n--- hub\n${hub?.output().slice(-3000)}`);
    });

  beforeAll(async () => {
    assertBuilt();
    work = await mkdtemp(join(tmpdir(), 'stems-e2e-'));
    repo = await makeGitRepo(cluster(''), 'first');
    gitServer = await serveGitHttp(repo.dir);
    listen = `127.0.0.1:${await freePort()}`;
    hubUrl = `http://${listen}`;
    await hubCli('init', '--repo', gitServer.url, '--listen', listen, '--fetch-interval', '5s');
    await startHub();
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.stop();
    await gitServer?.close();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('enrolls two agents with a join token and sees them accepted', async () => {
    const key = (await hubCli('key')).trim();
    for (const node of ['alpha', 'beta']) {
      // a join token enrolls one node, once
      const token = JSON.parse(await hubCli('join-token', 'create', '--json')).token as string;
      await runOk(AGENT_BIN, ['enroll', '--hub', hubUrl, '--hub-key', key, '--token', token, '--name', node, '--offline'], agentEnv(node));
      const agent = startDaemon(AGENT_BIN, ['run'], agentEnv(node));
      agents.push(agent);
    }
    const nodes = await eventually(async () => {
      const list = JSON.parse(await hubCli('nodes', '--json')) as { name: string; state: string }[];
      return list.filter((n) => n.state === 'accepted').length === 2 ? list : undefined;
    }, 'both nodes accepted');
    expect(nodes.map((n) => n.name).sort()).toEqual(['alpha', 'beta']);
  });

  it('approves the first revision and both agents apply it with their own facts', { timeout: 60_000 }, async () => {
    const revisions = await eventually(async () => {
      const list = JSON.parse(await hubCli('revisions', '--json')) as { commit: string; state: string }[];
      return list.length > 0 ? list : undefined;
    }, 'the first revision');
    expect(revisions[0]).toMatchObject({ commit: repo.head, state: 'valid' });
    const diff = await hubCli('diff', 'latest');
    expect(diff).toContain('+port = 8001');
    await hubCli('approve', 'latest', '--note', 'first rollout');
    await converged(1);
    for (const [node, port] of [
      ['alpha', 8001],
      ['beta', 8002],
    ] as const) {
      const root = agentEnv(node).STEMS_AGENT_ROOT;
      expect(await readFile(join(root, 'etc/app/app.conf'), 'utf8')).toBe(`port = ${port}\ngreeting = hello\n`);
      expect(await readFile(join(root, 'etc/motd'), 'utf8')).toBe(`${node} on ${hostname().split('.')[0]}\n`);
    }
  });

  it('keeps working when the hub is killed: agents reconnect and converge on a new approval', async () => {
    await hub?.stop('SIGKILL');
    const second = await commitFiles(repo.dir, { 'roles/base/files/motd.hbs': '{{node.name}} on {{facts.hostname}} (v2)\n' }, 'second');
    await startHub();
    await hubCli('sync');
    await eventually(async () => {
      const list = JSON.parse(await hubCli('revisions', '--json')) as { commit: string }[];
      return list[0]?.commit === second ? true : undefined;
    }, 'the second revision after the restart');
    await hubCli('approve', second.slice(0, 10));
    const s = await converged(2);
    expect(s.nodes.every((n) => n.revision === second)).toBe(true);
    expect(await readFile(join(agentEnv('alpha').STEMS_AGENT_ROOT, 'etc/motd'), 'utf8')).toContain('(v2)');
  });

  it('rolls back with one command: a new, higher serial carrying the old revision', async () => {
    await hubCli('rollback', '--to', repo.head);
    const s = await converged(3);
    expect(s.nodes.every((n) => n.revision === repo.head)).toBe(true);
    expect(await readFile(join(agentEnv('beta').STEMS_AGENT_ROOT, 'etc/motd'), 'utf8')).not.toContain('(v2)');
  });

  it('refuses to approve an invalid revision and the nodes keep their bundle', async () => {
    const bad = await commitFiles(repo.dir, { 'roles/base/files/motd.hbs': '{{node.name}} {{vars.nope}}\n' }, 'broken');
    await hubCli('sync');
    const revisions = await eventually(async () => {
      const list = JSON.parse(await hubCli('revisions', '--json')) as { commit: string; state: string; errors: { code: string }[] }[];
      return list[0]?.commit === bad ? list : undefined;
    }, 'the broken revision');
    expect(revisions[0]?.state).toBe('invalid');
    expect(revisions[0]?.errors.map((e) => e.code)).toContain('STEMS_TEMPLATE_MISSING_VAR');
    const refused = await runCli(HUB_BIN, ['approve', bad], { env: hubEnv() });
    expect(refused.code).toBe(1);
    expect(refused.stderr + refused.stdout).toContain('STEMS_REVISION_INVALID');
    expect((await status()).nodes.every((n) => n.serial === 3)).toBe(true);
  });
});
