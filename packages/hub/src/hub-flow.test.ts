import { decodePublicKey, verifyEnvelope } from '@stems/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { commitFiles, type GitRepo, makeGitRepo } from '../../../test/helpers/git-http.js';
import { TWO_NODE_CLUSTER } from './_test-fixtures.js';
import { testHub } from './_test-hub.js';
import { resignExpiring } from './approval/resign.js';
import { TestAgent } from './ws/_test-agent.js';

const ROLE = `resources:
  - file: /etc/motd
    content: "{{vars.greeting}} from {{node.name}}\\n"
    mode: "0644"
`;

const repos: GitRepo[] = [];
afterEach(async () => {
  for (const r of repos.splice(0)) await r.cleanup();
});

async function flowHub(options: { now?: () => Date } = {}) {
  const repo = await makeGitRepo({ 'cluster.yaml': TWO_NODE_CLUSTER, 'roles/base/role.yaml': ROLE }, 'first');
  repos.push(repo);
  const hub = await testHub({ repoUrl: repo.dir, ...options });
  const op = { authorization: `Bearer ${hub.token('operator', 'alice')}` };
  const post = (url: string, payload?: object) => hub.app.inject({ method: 'POST', url, headers: op, ...(payload ? { payload } : {}) });
  const get = (url: string) => hub.app.inject({ method: 'GET', url, headers: op });
  return { hub, repo, post, get };
}

describe('sync → approve → bundle', () => {
  it('turns commits into valid and invalid revisions, approves only valid ones, with increasing serials', async () => {
    const { hub, repo, post, get } = await flowHub();
    const first = await post('/api/v1/sync');
    expect(first.statusCode).toBe(200);
    expect(first.json().added).toEqual([{ commit: repo.head, subject: 'first', state: 'valid' }]);
    const bad = await commitFiles(repo.dir, { 'roles/base/role.yaml': 'resources:\n  - file: relative/path\n    content: x\n' }, 'broken');
    await post('/api/v1/sync');
    const revisions = (await get('/api/v1/revisions')).json();
    expect(revisions.map((r: { commit: string; state: string }) => [r.commit, r.state])).toEqual([
      [bad, 'invalid'],
      [repo.head, 'valid'],
    ]);
    expect(revisions[0].errors[0]).toMatchObject({ file: 'roles/base/role.yaml', line: expect.any(Number), col: expect.any(Number) });

    const refused = await post('/api/v1/approvals', { rev: bad.slice(0, 8) });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('STEMS_REVISION_INVALID');
    expect(hub.app.hub.store.bundles.approvals()).toEqual([]);

    const approved = await post('/api/v1/approvals', { rev: 'latest', note: 'go' });
    expect(approved.statusCode).toBe(201);
    expect(approved.json()).toMatchObject({
      kind: 'approve',
      commit: repo.head,
      bundles: [
        { node: 'n1', serial: 1 },
        { node: 'n2', serial: 1 },
      ],
    });

    const fixed = await commitFiles(repo.dir, { 'roles/base/role.yaml': ROLE.replace('from', 'at') }, 'fixed');
    await post('/api/v1/sync');
    const second = await post('/api/v1/approvals', { rev: fixed, nodes: ['n1'] });
    expect(second.json().bundles).toEqual([expect.objectContaining({ node: 'n1', serial: 2 })]);
    const rollback = await post('/api/v1/rollbacks', { to: repo.head });
    expect(rollback.statusCode).toBe(201);
    expect(rollback.json().bundles.map((b: { node: string; serial: number }) => [b.node, b.serial])).toEqual([
      ['n1', 3],
      ['n2', 2],
    ]);
    const audit = hub.app.hub.store.audit.list().filter((e) => e.action === 'approve' || e.action === 'rollback');
    expect(audit.map((e) => [e.action, e.actor, e.target])).toEqual([
      ['rollback', 'alice', repo.head],
      ['approve', 'alice', fixed],
      ['approve', 'alice', repo.head],
    ]);
    const status = (await get('/api/v1/status')).json();
    expect(status).toMatchObject({
      cluster: 'colab',
      branch: 'main',
      latestRevision: { commit: fixed, subject: 'fixed' },
      pendingRevisions: 0,
    });

    const unknownNode = await post('/api/v1/approvals', { rev: fixed, nodes: ['ghost'] });
    expect(unknownNode.json().error.code).toBe('STEMS_NODE_NOT_FOUND');
  });

  it('an enrolled agent is told of the approval and pulls a bundle that verifies against the hub key', async () => {
    const { hub, post } = await flowHub();
    const url = await hub.app.listen({ port: 0, host: '127.0.0.1' });
    const agent = await TestAgent.connect(url, 'n1');
    await agent.hello();
    await agent.next('pending');
    await post('/api/v1/nodes/n1/accept');
    await agent.next('welcome');
    await post('/api/v1/sync');
    await post('/api/v1/approvals', { rev: 'latest' });
    expect((await agent.next('bundle.available')).payload.serial).toBe(1);
    const from = agent.received.length;
    agent.send('bundle.get', {});
    const bundle = await agent.next('bundle', from);
    const hubKey = decodePublicKey(`ed25519:${Buffer.from(hub.key.publicKey).toString('base64')}`);
    const { payload } = verifyEnvelope(JSON.stringify(bundle.payload.envelope), {
      trustedKeys: [hubKey],
      cluster: 'colab',
      node: 'n1',
      lastSerial: 0,
      now: new Date(),
    });
    expect(payload).toMatchObject({ serial: 1, approval: { by: 'alice' }, revision: { subject: 'first' } });
    expect(payload.resources.map((r) => r.id)).toEqual(['file:/etc/motd']);
    agent.close();
  });

  it('re-signs bundles close to expiry with a new serial and the same content', async () => {
    let now = new Date('2030-01-01T00:00:00Z');
    const { hub, post } = await flowHub({ now: () => now });
    await post('/api/v1/sync');
    await post('/api/v1/approvals', { rev: 'latest' });
    const core = hub.app.hub;
    expect(resignExpiring(core)).toEqual([]);
    now = new Date(now.getTime() + 4 * 86_400_000); // 3 of 7 days left: under half
    expect(resignExpiring(core)).toEqual([
      { node: 'n1', serial: 2 },
      { node: 'n2', serial: 2 },
    ]);
    const open = (node: string, serial: number) => {
      const b = core.store.bundles.history(node).find((x) => x.serial === serial);
      return verifyEnvelope(b?.envelope ?? '', {
        trustedKeys: [hub.key.publicKey],
        cluster: 'colab',
        node,
        lastSerial: 0,
        now,
        stored: true,
      }).payload;
    };
    const [old, fresh] = [open('n1', 1), open('n1', 2)];
    expect(fresh.resources).toEqual(old.resources);
    expect(fresh.approval).toEqual(old.approval);
    expect(Date.parse(fresh.expiresAt)).toBe(now.getTime() + 7 * 86_400_000);
  });
});
