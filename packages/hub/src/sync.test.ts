import { rename, rm } from 'node:fs/promises';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { commitFiles, type GitRepo, makeGitRepo } from '../../../test/helpers/git-http.js';
import { testHub } from './_test-hub.js';
import { SyncLoop } from './sync.js';

const FILES = {
  'cluster.yaml': 'apiVersion: stems/v1\ncluster: colab\nnodes:\n  n1: {}\ngroups:\n  all: { roles: [base] }\n',
  'roles/base/role.yaml': 'resources:\n  - file: /etc/motd\n    content: "one\\n"\n',
};

const repos: GitRepo[] = [];
const loops: SyncLoop[] = [];
afterEach(async () => {
  for (const l of loops.splice(0)) await l.stop();
  for (const r of repos.splice(0)) await r.cleanup();
});

async function loopOn(fetchIntervalMs: number) {
  const repo = await makeGitRepo(FILES, 'first');
  repos.push(repo);
  const hub = await testHub({ repoUrl: repo.dir });
  const loop = new SyncLoop(hub.app.hub, { fetchIntervalMs });
  loops.push(loop);
  const commits = () => hub.app.hub.store.revisions.list(100).map((r) => r.commit);
  return { repo, hub, loop, commits };
}

describe('SyncLoop on an interval', () => {
  it('picks up a new commit by itself, without anyone calling sync, and stops when told', async () => {
    const { repo, loop, commits } = await loopOn(100);
    loop.start();
    await expect.poll(commits, { timeout: 5000 }).toEqual([repo.head]);

    const second = await commitFiles(repo.dir, { 'roles/base/role.yaml': FILES['roles/base/role.yaml'].replace('one', 'two') }, 'second');
    await expect.poll(commits, { timeout: 5000 }).toEqual([second, repo.head]);

    await loop.stop();
    const third = await commitFiles(repo.dir, { 'roles/base/role.yaml': FILES['roles/base/role.yaml'].replace('one', 'three') }, 'third');
    await new Promise((r) => setTimeout(r, 500));
    expect(commits()).not.toContain(third);
  });

  it('keeps going after a failed fetch: logs it and picks the commit up on a later tick', async () => {
    const { repo, hub, loop, commits } = await loopOn(100);
    const away = `${repo.dir}-away`;
    onTestFinished(() => rm(away, { recursive: true, force: true }));
    await rename(repo.dir, away);
    loop.start();
    await expect.poll(() => hub.logs.some((l) => l.includes('sync failed')), { timeout: 5000 }).toBe(true);
    expect(commits()).toEqual([]);
    await rename(away, repo.dir);
    await expect.poll(commits, { timeout: 5000 }).toEqual([repo.head]);
  });
});
