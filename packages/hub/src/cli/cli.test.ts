import { statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { decodePublicKey, encodePublicKey, generateKeyPair, verifyEnvelope, writeKeyFile } from '@stems/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { commitFiles, type GitRepo, makeGitRepo } from '../../../../test/helpers/git-http.js';
import { testHub } from '../_test-hub.js';
import { openStore } from '../store/index.js';
import { runHub as run } from './_test-cli.js';
import { runCli } from './run.js';

const CLUSTER = 'apiVersion: stems/v1\ncluster: colab\nnodes:\n  n1: {}\ngroups:\n  all: { roles: [base] }\n';
const ROLE = 'resources:\n  - file: /etc/motd\n    content: "hi {{node.name}}\\n"\n';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup() {
  const repo: GitRepo = await makeGitRepo({ 'cluster.yaml': CLUSTER, 'roles/base/role.yaml': ROLE }, 'first');
  const data = await mkdtemp(join(tmpdir(), 'stems-cli-'));
  cleanups.push(repo.cleanup, () => rm(data, { recursive: true, force: true }));
  const hub = async (...argv: string[]) => run(argv, { STEMS_HUB_DATA: data, STEMS_AGENT_CONFIG: join(data, 'no-agent.yaml') });
  return { repo, data, hub };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

describe('hub CLI on the hub host', () => {
  it('token list shows names and roles but no secret; token revoke makes one stop working', async () => {
    const { repo, hub } = await setup();
    expect((await hub('init', '--repo', repo.dir)).code).toBe(0);
    const created = JSON.parse((await hub('token', 'create', '--role', 'viewer', '--name', 'temp', '--json')).out);
    const listed = await hub('token', 'list');
    expect(listed.out).toMatch(/^NAME\s+ROLE/);
    expect(listed.out).toMatch(/temp\s+viewer/);
    expect(listed.out).not.toContain(created.token);
    expect((await hub('token', 'revoke', 'temp')).out).toContain('revoked token temp');
    expect((await hub('token', 'list')).out).not.toMatch(/temp\s+viewer/);
    const again = await hub('token', 'revoke', 'temp');
    expect(again.code).toBe(1);
    expect(again.err).toContain('STEMS_NOT_FOUND');
    expect((await hub('token', 'revoke')).code).toBe(2);
  });

  it('init, key, token create, sync, revisions, diff, approve and nodes work from the data dir', async () => {
    const { repo, data, hub } = await setup();
    const init = await hub('init', '--repo', repo.dir);
    expect(init.code, init.err).toBe(0);
    expect(statSync(join(data, 'hub.key')).mode & 0o777).toBe(0o600);
    expect(await readFile(join(data, 'hub.yaml'), 'utf8')).toContain(repo.dir);
    expect((await hub('init', '--repo', repo.dir)).code).toBe(1);

    const key = await hub('key');
    expect(key.out.trim()).toMatch(/^ed25519:[A-Za-z0-9+/]{43}=$/);

    const token = await hub('token', 'create', '--role', 'admin', '--json');
    expect(token.code, token.err).toBe(0);
    const created = JSON.parse(token.out);
    expect(created).toMatchObject({ role: 'admin', name: 'admin-1', token: expect.stringMatching(/^stems_/) });

    expect((await hub('sync')).out).toMatch(/valid\s+first/);
    const bad = await commitFiles(repo.dir, { 'cluster.yaml': 'apiVersion: stems/v1\ncluster: colab\nnodes: 3\n' }, 'broken');
    await hub('sync');
    const revs = JSON.parse((await hub('revisions', '--json')).out);
    expect(revs.map((r: { commit: string; state: string }) => [r.commit, r.state])).toEqual([
      [bad, 'invalid'],
      [repo.head, 'valid'],
    ]);
    expect(revs[0].errors[0]).toEqual({
      code: 'STEMS_REPO_SCHEMA',
      file: 'cluster.yaml',
      line: 3,
      col: expect.any(Number),
      message: expect.any(String),
    });
    expect(Object.keys(revs[0]).sort()).toEqual(['author', 'commit', 'committedAt', 'errors', 'state', 'subject']);

    const diff = await hub('diff', repo.head.slice(0, 7));
    expect(diff.code, diff.err).toBe(0);
    expect(diff.out).toContain('file:/etc/motd');
    const diffJson = JSON.parse((await hub('diff', 'latest', '--json', '--node', 'n1')).out);
    expect(diffJson[0]).toMatchObject({ node: 'n1', added: [{ id: 'file:/etc/motd' }], removed: [], changed: [] });

    const refused = await hub('approve', bad.slice(0, 8));
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/invalid[\s\S]*hint:/);

    const approved = await hub('approve', 'latest', '--note', 'ship it', '--json');
    expect(approved.code, approved.err).toBe(0);
    expect(JSON.parse(approved.out).bundles).toEqual([expect.objectContaining({ node: 'n1', serial: 1 })]);
    const rolled = await hub('rollback', '--to', repo.head);
    expect(rolled.out).toMatch(/rolled back[\s\S]*n1: serial 2/);

    const store = openStore(join(data, 'hub.db'));
    const bundle = store.bundles.latest('n1');
    const entries = store.audit.list().map((e) => [e.action, e.actor]);
    store.close();
    const { payload } = verifyEnvelope(bundle?.envelope ?? '', {
      trustedKeys: [decodePublicKey(key.out)],
      cluster: 'colab',
      node: 'n1',
      lastSerial: 1,
      now: new Date(),
    });
    expect(payload.approval).toMatchObject({ by: 'local' });
    expect(entries).toEqual([
      ['rollback', 'local'],
      ['approve', 'local'],
      ['token.create', 'local'],
    ]);

    expect(JSON.parse((await hub('nodes', '--json')).out)).toEqual([]);
    const missing = await hub('nodes', 'accept', 'ghost');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/ghost[\s\S]*hint:/);
    const status = JSON.parse((await hub('status', '--json')).out);
    expect(status).toMatchObject({ cluster: 'colab', branch: 'main', latestRevision: { commit: bad }, nodes: [] });
  });

  it('--version prints the version of the hub package', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
    const { hub } = await setup();
    const version = await hub('--version');
    expect(version.code).toBe(0);
    expect(version.out).toBe(`${pkg.version}\n`);
    expect((await hub('-v')).out).toBe(`${pkg.version}\n`);
  });

  it('init, key, sync and rollback --json print the documented shapes; a failure prints { error } on stderr', async () => {
    const { repo, data, hub } = await setup();
    const init = await hub('init', '--repo', repo.dir, '--json');
    expect(init.code, init.err).toBe(0);
    expect(JSON.parse(init.out)).toEqual({
      dataDir: data,
      created: [join(data, 'hub.yaml'), join(data, 'hub.key'), join(data, 'hub.db')],
    });

    const key = JSON.parse((await hub('key', '--json')).out);
    expect(Object.keys(key).sort()).toEqual(['fingerprint', 'key', 'keyId']);
    expect(key.key).toBe((await hub('key')).out.trim());
    expect(key.fingerprint).toMatch(/^SHA256:/);
    expect(key.keyId).toEqual(expect.any(String));

    const first = await hub('sync', '--json');
    expect(first.code, first.err).toBe(0);
    expect(JSON.parse(first.out)).toEqual({ added: [{ commit: repo.head, subject: 'first', state: 'valid' }] });
    const second = await commitFiles(repo.dir, { 'roles/base/role.yaml': ROLE.replace('hi', 'hello') }, 'second');
    expect(JSON.parse((await hub('sync', '--json')).out)).toEqual({ added: [{ commit: second, subject: 'second', state: 'valid' }] });
    expect(JSON.parse((await hub('sync', '--json')).out)).toEqual({ added: [] });

    expect((await hub('approve', second)).code).toBe(0);
    const rolled = await hub('rollback', '--to', repo.head.slice(0, 8), '--note', 'back', '--json');
    expect(rolled.code, rolled.err).toBe(0);
    const rollback = JSON.parse(rolled.out);
    expect(rollback).toEqual({
      approvalId: expect.any(Number),
      kind: 'rollback',
      commit: repo.head,
      subject: 'first',
      bundles: [{ node: 'n1', serial: 2, expiresAt: expect.any(String) }],
      // the role needs no facts, so nothing waits for them
      waitingForFacts: [],
    });
    expect(Date.parse(rollback.bundles[0].expiresAt)).toBeGreaterThan(Date.now());

    // With --json a failure is one JSON object on stderr and nothing on stdout; exit codes are unchanged.
    const failed = await hub('rollback', '--to', 'deadbeef', '--json');
    expect(failed.code).toBe(1);
    expect(failed.out).toBe('');
    const error = JSON.parse(failed.err).error;
    expect(error).toEqual({
      code: expect.stringMatching(/^STEMS_/),
      message: expect.stringContaining('deadbeef'),
      hint: expect.any(String),
    });
    const usage = await hub('rollback', '--json');
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.err).error).toMatchObject({ code: 'STEMS_CLI_USAGE', message: expect.stringContaining('--to') });
  });

  it('STEMS_HUB_URL and STEMS_TOKEN work like --hub and --token', async () => {
    const { repo } = await setup();
    const served = await testHub({ repoUrl: repo.dir });
    const url = await served.app.listen({ port: 0, host: '127.0.0.1' });
    const token = served.token('operator');
    // Nothing else to fall back on: no hub data dir, no agent config.
    const nowhere = { STEMS_HUB_DATA: join(served.dir, 'none'), STEMS_AGENT_CONFIG: join(served.dir, 'none.yaml') };
    const viaEnv = (...argv: string[]) => run(argv, { ...nowhere, STEMS_HUB_URL: url, STEMS_TOKEN: token });
    const viaFlags = (...argv: string[]) => run([...argv, '--hub', url, '--token', token], nowhere);

    const synced = await viaEnv('sync', '--json');
    expect(synced.code, synced.err).toBe(0);
    expect(JSON.parse(synced.out).added).toEqual([{ commit: repo.head, subject: 'first', state: 'valid' }]);
    const env = await viaEnv('revisions', '--json');
    expect(env.code, env.err).toBe(0);
    expect(JSON.parse(env.out)[0]).toMatchObject({ commit: repo.head, state: 'valid' });
    expect(env.out).toBe((await viaFlags('revisions', '--json')).out);
    const approved = await viaEnv('approve', 'latest', '--json');
    expect(approved.code, approved.err).toBe(0);
    expect(served.app.hub.store.audit.list()[0]).toMatchObject({ action: 'approve', actor: expect.stringContaining('t1-operator') });

    // The variables are really used: a wrong token is refused, and a flag beats the variable.
    const wrong = await run(['revisions'], { ...nowhere, STEMS_HUB_URL: url, STEMS_TOKEN: `${token}x` });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/STEMS_AUTH/);
    const flagWins = await run(['revisions', '--json', '--token', token], { ...nowhere, STEMS_HUB_URL: url, STEMS_TOKEN: 'bogus' });
    expect(flagWins.code, flagWins.err).toBe(0);
  });

  it('usage errors exit 2, help exits 0 and lists every command', async () => {
    const { hub } = await setup();
    const help = await hub('--help');
    expect(help.code).toBe(0);
    for (const c of [
      'init',
      'serve',
      'key',
      'status',
      'revisions',
      'diff',
      'approve',
      'rollback',
      'nodes',
      'token',
      'join-token',
      'sync',
    ]) {
      expect(help.out).toContain(`  ${c} `);
      const sub = await hub(c, '--help');
      expect(sub.code, c).toBe(0);
      expect(sub.out, c).toContain(`hub ${c}`);
    }
    expect((await hub('approve')).code).toBe(2);
    expect((await hub('approve', 'x', '--bogus')).code).toBe(2);
    expect((await hub('token', 'create', '--role', 'root')).code).toBe(2);
    expect((await hub('nope')).code).toBe(2);
    const noInit = await hub('status');
    expect(noInit.code).toBe(1);
    expect(noInit.err).toMatch(/hint: .*--hub/);
    const noToken = await hub('status', '--hub', 'http://127.0.0.1:9');
    expect(noToken.code).toBe(1);
    expect(noToken.err).toMatch(/STEMS_TOKEN/);
  });

  it('serve answers the API; admin commands on the host go through it with the local admin token', async () => {
    const { repo, data, hub } = await setup();
    const port = await freePort();
    await hub('init', '--repo', repo.dir, '--listen', `127.0.0.1:${port}`, '--fetch-interval', '3600s');
    const stop = new AbortController();
    const logs = new PassThrough();
    let logText = '';
    logs.on('data', (c) => {
      logText += c;
    });
    const serving = runCli(['serve'], { stdout: logs, stderr: logs, env: { STEMS_HUB_DATA: data }, signal: stop.signal });
    await expect.poll(() => logText.includes('hub listening'), { timeout: 10_000 }).toBe(true);
    // Joins the start-up sync (or runs one) through the server.
    expect((await hub('sync')).code).toBe(0);
    const admin = JSON.parse((await hub('token', 'create', '--role', 'viewer', '--name', 'ro', '--json')).out);
    const remote = await hub('revisions', '--json', '--hub', `http://127.0.0.1:${port}`, '--token', admin.token);
    expect(remote.code, remote.err).toBe(0);
    expect(JSON.parse(remote.out)[0]).toMatchObject({ commit: repo.head, state: 'valid' });
    const forbidden = await hub('approve', 'latest', '--hub', `http://127.0.0.1:${port}`, '--token', admin.token);
    expect(forbidden.code).toBe(1);
    expect(forbidden.err).toMatch(/viewer role/);
    const approved = await hub('approve', 'latest', '--json');
    expect(JSON.parse(approved.out).bundles[0].serial).toBe(1);
    stop.abort();
    expect(await serving).toBe(0);
    // The approval went through the server with its local admin token.
    expect(logText).toContain('revision approved');
    expect(logText).not.toContain(admin.token);
    const store = openStore(join(data, 'hub.db'));
    expect(store.audit.list()[0]).toMatchObject({ action: 'approve', actor: 'local' });
    store.close();
  });

  it('on a node with no token, read-only commands sign with the node key; writes are refused', async () => {
    const hub = await testHub();
    const url = await hub.app.listen({ port: 0, host: '127.0.0.1' });
    const dir = await mkdtemp(join(tmpdir(), 'stems-node-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const pair = generateKeyPair();
    await writeKeyFile(join(dir, 'state', 'node.key'), pair);
    await writeFile(
      join(dir, 'agent.yaml'),
      `hub: { url: "${url}", key: "${encodePublicKey(hub.key.publicKey)}" }\nnode: n1\npaths: { state: ${join(dir, 'state')} }\n`,
    );
    const env = { STEMS_AGENT_CONFIG: join(dir, 'agent.yaml'), STEMS_HUB_DATA: join(dir, 'no-hub') };
    hub.app.hub.store.nodes.upsert({
      name: 'n1',
      publicKey: encodePublicKey(pair.publicKey),
      fingerprint: 'fp',
      state: 'pending',
      at: new Date().toISOString(),
    });
    const pending = await run(['status'], env);
    expect(pending.code).toBe(1);
    expect(pending.err).toMatch(/token or node signature/);
    hub.app.hub.store.nodes.setState('n1', 'accepted');
    const status = await run(['status', '--json'], env);
    expect(status.code, status.err).toBe(0);
    expect(JSON.parse(status.out).nodes).toEqual([expect.objectContaining({ name: 'n1' })]);
    const write = await run(['sync'], env);
    expect(write.code).toBe(1);
    expect(write.err).toMatch(/viewer role/);
  });
});
