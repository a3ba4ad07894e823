import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// The real hub, in-process: the agent package never imports the hub at run
// time (STYLE 1); only this test does, to check both sides of the protocol
// against each other. The multi-process version is in test/ (end-to-end).
import { commitFiles, type GitRepo, makeGitRepo } from '../../../../test/helpers/git-http.js';
import { testHub } from '../../../hub/src/_test-hub.js';
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

describe('agent ↔ real hub', () => {
  it('enrolls (pending), is accepted, pulls, verifies and applies an approved bundle, and reports', async () => {
    const repo: GitRepo = await makeGitRepo({ 'cluster.yaml': CLUSTER, 'roles/base/role.yaml': ROLE }, 'first');
    cleanups.push(() => repo.cleanup());
    const hub = await testHub({ repoUrl: repo.dir });
    const url = await hub.app.listen({ port: 0, host: '127.0.0.1' });
    const op = { authorization: `Bearer ${hub.token('operator', 'alice')}` };
    const post = (path: string, payload?: object) => hub.app.inject({ method: 'POST', url: path, headers: op, ...(payload ? { payload } : {}) });
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
    const daemon = await Daemon.start({ config, log: silent, agentVersion: '0.0.0-test' });
    cleanups.push(() => daemon.stop());
    expect((await post('/api/v1/nodes/projector/accept')).statusCode).toBeLessThan(300);
    await until(() => daemon.connected);

    await post('/api/v1/sync');
    expect((await post('/api/v1/approvals', { rev: 'latest' })).statusCode).toBe(201);
    const motd = join(fx.root, 'etc/motd');
    const text = await until(() => readFile(motd, 'utf8').catch(() => undefined));
    expect(text).toBe(`hello from projector (${process.arch})\n`);
    expect(daemon.lastSerial).toBe(1);
    const node = await until(async () => (await status()).nodes.find((n: { serial: number }) => n.serial === 1));
    expect(node).toMatchObject({ name: 'projector', serial: 1 });

    // a second approval is announced, pulled and applied without a restart
    await commitFiles(repo.dir, { 'cluster.yaml': CLUSTER.replace('greeting: hello', 'greeting: hi') }, 'second');
    await post('/api/v1/sync');
    await post('/api/v1/approvals', { rev: 'latest' });
    await until(async () => (await readFile(motd, 'utf8')).startsWith('hi from'));
    expect(daemon.lastSerial).toBe(2);
  });
});
