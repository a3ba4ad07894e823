import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStemsError, loadRepo } from '@stems/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { commitFiles, git, makeGitRepo, serveGitHttp } from '../../../../test/helpers/git-http.js';
import { openRepoSource } from './repo-source.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const CLUSTER = `apiVersion: stems/v1
cluster: colab
nodes:
  alpha: {}
groups:
  all: { roles: [base] }
`;
const ROLE = `resources:
  - file: /etc/motd
    template: motd.hbs
`;
const BASE = { 'cluster.yaml': CLUSTER, 'roles/base/role.yaml': ROLE, 'roles/base/files/motd.hbs': 'hello {{node.name}}\n' };

async function repo(files: Record<string, string> = BASE) {
  const r = await makeGitRepo(files);
  cleanups.push(r.cleanup);
  return r;
}

async function cacheDir() {
  const dir = await mkdtemp(join(tmpdir(), 'stems-cache-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return join(dir, 'repo.git');
}

async function text(reader: { readFile(p: string): Promise<Uint8Array | undefined> }, path: string) {
  const bytes = await reader.readFile(path);
  return bytes === undefined ? undefined : Buffer.from(bytes).toString('utf8');
}

describe('openRepoSource over git http-backend', () => {
  it('clones the branch, sees a new commit on the next fetch and reads commit trees', async () => {
    const r = await repo();
    const server = await serveGitHttp(r.dir);
    cleanups.push(server.close);
    const source = openRepoSource({ url: server.url, branch: 'main', cacheDir: await cacheDir() });

    const first = await source.fetch();
    expect(first).toMatchObject({ commit: r.head, subject: 'initial', author: 'Stems Test <test@stems.invalid>' });
    expect(Date.parse(first?.committedAt ?? '')).not.toBeNaN();

    const second = await commitFiles(r.dir, { 'roles/base/files/motd.hbs': 'bye {{node.name}}\n' }, 'change motd\n\nbody text');
    const fetched = await source.fetch();
    expect(fetched).toMatchObject({ commit: second, subject: 'change motd' });

    // both commits stay readable, each with its own tree
    expect(await text(source.reader(r.head), 'roles/base/files/motd.hbs')).toBe('hello {{node.name}}\n');
    expect(await text(source.reader(second), 'roles/base/files/motd.hbs')).toBe('bye {{node.name}}\n');
    expect(await text(source.reader(second), 'roles/base/files/nope.hbs')).toBeUndefined();
    const loaded = await loadRepo(source.reader(second));
    expect(loaded.problems).toEqual([]);

    const log = await source.log(second);
    expect(log.map((c) => c.commit)).toEqual([second, r.head]);
    expect(await source.log(second, { since: r.head })).toHaveLength(1);
    expect(await source.log(second, { max: 1 })).toHaveLength(1);
  });

  it('returns null for a branch the remote does not have', async () => {
    const r = await repo();
    const server = await serveGitHttp(r.dir);
    cleanups.push(server.close);
    const source = openRepoSource({ url: server.url, branch: 'release', cacheDir: await cacheDir() });
    expect(await source.fetch()).toBeNull();
  });

  it('fetches with basic auth and never shows the password when the server refuses it', async () => {
    const r = await repo();
    const auth = { username: 'hub', password: 's3cret-pass' };
    const server = await serveGitHttp(r.dir, { auth });
    cleanups.push(server.close);
    const ok = openRepoSource({ url: server.url, branch: 'main', cacheDir: await cacheDir(), auth });
    expect((await ok.fetch())?.commit).toBe(r.head);

    const wrong = openRepoSource({
      url: server.url.replace('http://', 'http://hub:in-url-pass@'),
      branch: 'main',
      cacheDir: await cacheDir(),
      auth: { username: 'hub', password: 'wrong-pass' },
    });
    const err = await wrong.fetch().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStemsError(err, 'STEMS_GIT_FETCH')).toBe(true);
    const shown = JSON.stringify(isStemsError(err) ? err.toJSON() : err);
    expect(shown).not.toContain('wrong-pass');
    expect(shown).not.toContain('in-url-pass');
    expect(shown).toMatch(/credentials/);
  });

  it('reports an unreachable server as STEMS_GIT_FETCH with a hint', async () => {
    const server = await serveGitHttp(await mkdtemp(join(tmpdir(), 'stems-empty-')));
    const url = `${server.url}/missing`;
    await server.close();
    const source = openRepoSource({ url, branch: 'main', cacheDir: await cacheDir() });
    await expect(source.fetch()).rejects.toMatchObject({ code: 'STEMS_GIT_FETCH', hint: expect.any(String) });
  });
});

describe('openRepoSource on a local path', () => {
  it('reads the branch ref of a working copy and of a bare repo, and follows new commits', async () => {
    const r = await repo();
    const source = openRepoSource({ url: r.dir, branch: 'main', cacheDir: await cacheDir() });
    expect((await source.fetch())?.commit).toBe(r.head);
    const next = await commitFiles(r.dir, { 'notes.txt': 'x' }, 'second');
    expect((await source.fetch())?.commit).toBe(next);
    expect(await text(source.reader(next), 'notes.txt')).toBe('x');
    expect((await source.log(next)).map((c) => c.subject)).toEqual(['second', 'initial']);
    await expect(source.log('e'.repeat(40))).rejects.toMatchObject({ code: 'STEMS_REVISION_NOT_FOUND' });

    const bare = join(await mkdtemp(join(tmpdir(), 'stems-bare-')), 'bare.git');
    cleanups.push(() => rm(bare, { recursive: true, force: true }));
    await git(r.dir, 'clone', '--quiet', '--bare', r.dir, bare);
    const fromBare = openRepoSource({ url: `file://${bare}`, branch: 'main', cacheDir: await cacheDir() });
    expect((await fromBare.fetch())?.commit).toBe(next);
    expect(await openRepoSource({ url: r.dir, branch: 'other', cacheDir: await cacheDir() }).fetch()).toBeNull();
  });

  it('reads the committed tree, not the working copy', async () => {
    const r = await repo();
    await commitFiles(r.dir, {}, 'empty');
    await writeFile(join(r.dir, 'cluster.yaml'), 'uncommitted');
    const source = openRepoSource({ url: r.dir, branch: 'main', cacheDir: await cacheDir() });
    const head = await source.fetch();
    expect(await text(source.reader(head?.commit ?? ''), 'cluster.yaml')).toBe(CLUSTER);
  });

  it('refuses transports it does not speak', async () => {
    for (const url of ['ssh://git@example.invalid/repo.git', 'git@example.invalid:repo.git']) {
      const source = openRepoSource({ url, branch: 'main', cacheDir: await cacheDir() });
      await expect(source.fetch()).rejects.toMatchObject({ code: 'STEMS_GIT_FETCH', message: expect.stringContaining('only http(s)') });
    }
  });

  it('refuses a path that is not a git repository', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stems-plain-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const source = openRepoSource({ url: dir, branch: 'main', cacheDir: await cacheDir() });
    await expect(source.fetch()).rejects.toMatchObject({ code: 'STEMS_GIT_FETCH' });
  });
});

describe('commit tree reader', () => {
  it('refuses symlink and submodule entries and a symlinked directory', async () => {
    const sub = await repo({ 'x.txt': 'sub' });
    const r = await repo();
    await symlink('/etc/passwd', join(r.dir, 'roles/base/files/link.hbs'));
    await symlink('base', join(r.dir, 'roles/alias'));
    await git(r.dir, '-c', 'protocol.file.allow=always', 'submodule', '--quiet', 'add', sub.dir, 'roles/sub');
    const head = await commitFiles(r.dir, {}, 'unsafe entries');
    const reader = openRepoSource({ url: r.dir, branch: 'main', cacheDir: await cacheDir() }).reader(head);

    await expect(reader.readFile('roles/base/files/link.hbs')).rejects.toMatchObject({ code: 'STEMS_REPO_UNSAFE_ENTRY' });
    await expect(reader.readFile('roles/sub')).rejects.toMatchObject({ code: 'STEMS_REPO_UNSAFE_ENTRY' });
    await expect(reader.readFile('roles/sub/x.txt')).rejects.toMatchObject({ code: 'STEMS_REPO_UNSAFE_ENTRY' });
    await expect(reader.readFile('roles/alias/role.yaml')).rejects.toMatchObject({ code: 'STEMS_REPO_UNSAFE_ENTRY' });
    await expect(reader.readFile('roles/base')).rejects.toMatchObject({ code: 'STEMS_REPO_UNSAFE_ENTRY' });
    expect(await text(reader, 'roles/base/role.yaml')).toBe(ROLE);
    expect(await text(reader, 'cluster.yaml/oops')).toBeUndefined();
  });

  it('refuses a blob over 16 MiB', async () => {
    const r = await repo({ ...BASE, 'roles/base/files/big.bin': 'x'.repeat(16 * 1024 * 1024 + 1) });
    const reader = openRepoSource({ url: r.dir, branch: 'main', cacheDir: await cacheDir() }).reader(r.head);
    await expect(reader.readFile('roles/base/files/big.bin')).rejects.toMatchObject({ code: 'STEMS_REPO_UNSAFE_ENTRY' });
  });
});
