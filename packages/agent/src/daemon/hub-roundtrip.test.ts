import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { KeyPair } from '@stems/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../config/load.js';
import { enroll } from '../identity/enroll.js';
import { type AgentFixture, agentFixture, silent } from './_test-fixtures.js';
import { Daemon } from './daemon.js';

const CLUSTER = `apiVersion: stems/v1
cluster: colab
vars: { greeting: hello }
nodes:
  projector: {}
groups:
  all: { roles: [base] }
`;
const ROLE = `resources:
  - file: /etc/motd
    content: "{{vars.greeting}} from {{node.name}} ({{facts.os.arch}})\\n"
    mode: "0644"
`;

/*
 * The real hub, in-process. The agent never imports the hub (STYLE 1), and its
 * typecheck must not pull in the hub's sources, so this test loads the hub's
 * test helper by URL at run time and names only the few members it uses. The
 * multi-process version of this flow is in test/ (end-to-end).
 */
interface InjectResponse {
  statusCode: number;
  json(): { nodes: Array<{ name: string; serial: number; state: string }> };
}
interface RealHub {
  app: {
    listen(opts: { port: number; host: string }): Promise<string>;
    inject(opts: { method: string; url: string; headers: Record<string, string>; payload?: object }): Promise<InjectResponse>;
  };
  key: KeyPair;
  token(role: 'operator', name?: string): string;
}
interface TestHubModule {
  testHub(opts: { repoUrl: string }): Promise<RealHub>;
}
const isTestHubModule = (m: unknown): m is TestHubModule =>
  typeof m === 'object' && m !== null && 'testHub' in m && typeof m.testHub === 'function';

async function realHub(repoUrl: string): Promise<RealHub> {
  const mod: unknown = await import(new URL('../../../hub/src/_test-hub.ts', import.meta.url).href);
  if (!isTestHubModule(mod)) throw new TypeError('packages/hub/src/_test-hub.ts no longer exports testHub');
  return mod.testHub({ repoUrl });
}

const run = promisify(execFile);
const git = (dir: string, ...args: string[]) => run('git', args, { cwd: dir });

/** A real git repository made with the git CLI; returns a function that commits more files. */
async function gitRepo(
  files: Record<string, string>,
): Promise<{ dir: string; commit(files: Record<string, string>, msg: string): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'stems-agent-git-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await git(dir, 'init', '--quiet', '-b', 'main');
  await git(dir, 'config', 'user.name', 'Stems Test');
  await git(dir, 'config', 'user.email', 'test@stems.invalid');
  await git(dir, 'config', 'commit.gpgsign', 'false');
  const commit = async (more: Record<string, string>, msg: string) => {
    for (const [path, text] of Object.entries(more)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    await git(dir, 'add', '--all');
    await git(dir, 'commit', '--quiet', '-m', msg);
  };
  await commit(files, 'first');
  return { dir, commit };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const until = async <T>(probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** A real hub following a real repo, and a daemon enrolled, accepted and connected to it. */
async function connectedAgent(intervals: Partial<AgentFixture['config']['intervals']> = {}) {
  const repo = await gitRepo({ 'cluster.yaml': CLUSTER, 'roles/base/role.yaml': ROLE });
  const hub = await realHub(repo.dir);
  const url = await hub.app.listen({ port: 0, host: '127.0.0.1' });
  const op = { authorization: `Bearer ${hub.token('operator', 'alice')}` };
  const post = (path: string, payload?: object) =>
    hub.app.inject({ method: 'POST', url: path, headers: op, ...(payload ? { payload } : {}) });
  const status = async () => (await hub.app.inject({ method: 'GET', url: '/api/v1/status', headers: op })).json();

  const fx: AgentFixture = await agentFixture({ hubUrl: url, hub: hub.key });
  cleanups.push(() => fx.cleanup());
  const enrolled = await enroll({
    hubUrl: url,
    hubKey: fx.config.hubKey,
    name: 'projector',
    configPath: join(fx.dir, 'agent.yaml'),
    stateDir: fx.stateDir,
    rootDir: fx.root,
    agentVersion: '0.0.0-test',
    log: silent,
  });
  expect(enrolled.hub.status).toBe('pending');
  expect(enrolled.next).toContain('hub nodes accept projector');

  const { config } = await loadAgentConfig(join(fx.dir, 'agent.yaml'));
  // enroll wrote agent.yaml without intervals: the test's go on top
  const daemon = await Daemon.start({
    config: { ...config, intervals: { ...config.intervals, ...intervals } },
    log: silent,
    agentVersion: '0.0.0-test',
  });
  cleanups.push(() => daemon.stop());
  expect((await post('/api/v1/nodes/projector/accept')).statusCode).toBeLessThan(300);
  await until(() => daemon.connected);
  return { repo, fx, daemon, post, status };
}

describe('agent ↔ real hub', () => {
  it('enrolls (pending), is accepted, pulls, verifies and applies an approved bundle, and reports', async () => {
    const { repo, fx, daemon, post, status } = await connectedAgent();
    await post('/api/v1/sync');
    expect((await post('/api/v1/approvals', { rev: 'latest' })).statusCode).toBe(201);
    const motd = join(fx.root, 'etc/motd');
    await until(() => daemon.lastSerial === 1);
    expect(await readFile(motd, 'utf8')).toBe(`hello from projector (${process.arch})\n`);
    const node = await until(async () => (await status()).nodes.find((n) => n.serial === 1));
    expect(node).toMatchObject({ name: 'projector', serial: 1 });

    // a second approval is announced, pulled and applied without a restart
    await repo.commit({ 'cluster.yaml': CLUSTER.replace('greeting: hello', 'greeting: hi') }, 'second');
    await post('/api/v1/sync');
    await post('/api/v1/approvals', { rev: 'latest' });
    await until(() => daemon.lastSerial === 2);
    expect(await readFile(motd, 'utf8')).toBe(`hi from projector (${process.arch})\n`);
  });

  it('stays converged when the safety-net poll hands it the bundle it already holds', async () => {
    const { fx, daemon, post, status } = await connectedAgent({ pollMs: 100 });
    await post('/api/v1/sync');
    await post('/api/v1/approvals', { rev: 'latest' });
    await until(() => daemon.lastSerial === 1);
    const before = await readFile(join(fx.stateDir, 'last-report.json'), 'utf8');
    await new Promise((r) => setTimeout(r, 1000)); // ten polls, each answered with serial 1
    await daemon.idle();
    // not re-applied (the last report is the apply's), not reported as a rejected replay
    expect(await readFile(join(fx.stateDir, 'last-report.json'), 'utf8')).toBe(before);
    const node = await until(async () => (await status()).nodes.find((n) => n.state !== 'applying'));
    expect(node).toMatchObject({ name: 'projector', serial: 1, state: 'converged' });
  });
});
