import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHttpServer, type GitRepo, git, makeGitRepo, serveGitHttp } from '../helpers/git-http.js';
import { type HubProcess, healthWatch, startHubProcess } from './_hub-process.js';

// Hostile repository content, served over git's smart HTTP to a real `hub
// serve` process: symlinks out of the repo (Argo CD CVE-2022-24348 /
// CVE-2022-31036, Puppet CVE-2011-3869), a submodule, a YAML alias bomb, a
// 100 MB blob and templates that explode. Each must become an invalid
// revision with a clear error, quickly, with the hub's memory bounded and its
// health endpoint answering meanwhile.

const CLUSTER = `apiVersion: stems/v1
cluster: colab
vars: { greeting: hello }
nodes:
  good: {}
groups:
  all: { roles: [base] }
`;
const ROLE = `resources:
  - file: /etc/motd
    template: motd.hbs
`;
const BASE = { 'cluster.yaml': CLUSTER, 'roles/base/role.yaml': ROLE, 'roles/base/files/motd.hbs': '{{vars.greeting}} {{node.name}}\n' };
const TEMPLATE = 'roles/base/files/motd.hbs';
/** Peak memory one hostile commit may add to the hub (VmHWM). */
const MAX_PEAK_GROWTH_BYTES = 64 * 1024 * 1024;
/** A sync of one hostile commit: the issue asks for 1 s; this bound leaves room for a loaded CI machine. */
const MAX_SYNC_MS = 5000;

/** The billion laughs: ten levels of nine aliases each (9^10 strings once expanded). */
const aliasBomb = () => {
  const lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(',')}]`);
  return CLUSTER.replace('vars: { greeting: hello }', `vars:\n  greeting: hello\n  ${lines.join('\n  ')}`);
};

interface Case {
  name: string;
  /** Changes the work tree (and may stage by hand); everything is then committed. */
  mutate(dir: string): Promise<void>;
  code: string;
  /** The mutation staged its change itself (a gitlink has no work-tree file for `git add` to see). */
  staged?: true;
  /** A known gap: its memory is recorded, not asserted (see docs/security.md). */
  memoryGap?: true;
  /** Read by a hub on the local path, not over HTTP (the test git server gives up on a 100 MB pack). */
  local?: true;
}

const CASES: Case[] = [
  {
    name: 'template is a symlink to /etc/shadow',
    mutate: async (dir) => {
      await rm(join(dir, TEMPLATE));
      await symlink('/etc/shadow', join(dir, TEMPLATE));
    },
    code: 'STEMS_REPO_UNSAFE_ENTRY',
  },
  {
    name: 'template is a relative symlink leaving the repo',
    mutate: async (dir) => {
      await rm(join(dir, TEMPLATE));
      await symlink('../../../../../../../../etc/passwd', join(dir, TEMPLATE));
    },
    code: 'STEMS_REPO_UNSAFE_ENTRY',
  },
  {
    name: 'a role directory is a symlink to /etc',
    mutate: async (dir) => {
      await symlink('/etc', join(dir, 'roles/evil'));
      await writeFile(join(dir, 'cluster.yaml'), CLUSTER.replace('roles: [base]', 'roles: [base, evil]'));
    },
    code: 'STEMS_REPO_UNSAFE_ENTRY',
  },
  {
    name: 'cluster.yaml is a symlink',
    mutate: async (dir) => {
      await rm(join(dir, 'cluster.yaml'));
      await symlink('/etc/hostname', join(dir, 'cluster.yaml'));
    },
    code: 'STEMS_REPO_UNSAFE_ENTRY',
  },
  {
    name: 'template is a submodule (gitlink)',
    staged: true,
    mutate: async (dir) => {
      await git(dir, 'rm', '-q', TEMPLATE);
      await git(dir, 'update-index', '--add', '--cacheinfo', `160000,${'e'.repeat(40)},${TEMPLATE}`);
    },
    code: 'STEMS_REPO_UNSAFE_ENTRY',
  },
  { name: 'YAML alias bomb (9^10 nodes)', mutate: (dir) => writeFile(join(dir, 'cluster.yaml'), aliasBomb()), code: 'STEMS_REPO_YAML' },
  {
    name: 'YAML nested 20,000 levels deep',
    mutate: (dir) => writeFile(join(dir, 'cluster.yaml'), `${CLUSTER}x: ${'['.repeat(20_000)}${']'.repeat(20_000)}\n`),
    code: 'STEMS_REPO_YAML',
  },
  {
    name: 'template recurses through a partial',
    mutate: (dir) => writeFile(join(dir, TEMPLATE), '{{> motd}}{{#*inline "motd"}}{{> motd}}{{/inline}}\n'),
    code: 'STEMS_TEMPLATE_SYNTAX',
  },
  {
    name: '{{#each}} expansion of 1000^3',
    mutate: async (dir) => {
      const list = `[${Array.from({ length: 1000 }, (_, i) => i).join(',')}]`;
      await writeFile(join(dir, 'cluster.yaml'), CLUSTER.replace('vars: { greeting: hello }', `vars: { greeting: hello, l: ${list} }`));
      await writeFile(join(dir, TEMPLATE), '{{#each vars.l}}{{#each @root.vars.l}}{{#each @root.vars.l}}x{{/each}}{{/each}}{{/each}}\n');
    },
    code: 'STEMS_TEMPLATE_RENDER',
  },
  {
    name: '100 MB blob as the template',
    mutate: (dir) => writeFile(join(dir, TEMPLATE), Buffer.alloc(100 * 1024 * 1024, 'x')),
    code: 'STEMS_REPO_UNSAFE_ENTRY',
    memoryGap: true,
    local: true,
  },
];

describe('hostile repository content', () => {
  let repo: GitRepo;
  let server: GitHttpServer;
  let work: string;
  let remoteHub: HubProcess;
  let localHub: HubProcess;
  let base: string;
  const figures: string[] = [];

  beforeAll(async () => {
    repo = await makeGitRepo(BASE, 'base');
    base = repo.head;
    server = await serveGitHttp(repo.dir);
    work = await mkdtemp(join(tmpdir(), 'stems-repos-'));
    remoteHub = await startHubProcess(join(work, 'remote'), server.url);
    localHub = await startHubProcess(join(work, 'local'), repo.dir);
    for (const hub of [remoteHub, localHub]) expect((await hub.api('POST', '/api/v1/sync')).status).toBe(200);
  });

  afterAll(async () => {
    await remoteHub?.daemon.stop();
    await localHub?.daemon.stop();
    await server?.close();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
    console.info(`[security] repos:\n  ${figures.join('\n  ')}`);
  });

  for (const c of CASES) {
    it(`${c.name} → invalid revision (${c.code}), quickly, memory bounded, hub responsive`, async () => {
      // Start from the base tree, apply the hostile change, commit it.
      await git(repo.dir, 'rm', '-rq', '.');
      await git(repo.dir, 'checkout', base, '--', '.');
      await c.mutate(repo.dir);
      if (!c.staged) await git(repo.dir, 'add', '--all');
      await git(repo.dir, 'commit', '-qm', c.name);
      const hub = c.local ? localHub : remoteHub;
      const head = await git(repo.dir, 'rev-parse', 'HEAD');

      const peakBefore = await hub.peakRss();
      const health = healthWatch(hub.url);
      const sync = await hub.api('POST', '/api/v1/sync');
      const { maxMs, failures, polls } = await health.stop();
      const growth = (await hub.peakRss()) - peakBefore;
      expect(sync.status, JSON.stringify(sync.body)).toBe(200);

      const list = (await hub.api('GET', '/api/v1/revisions?limit=1')).body as {
        commit: string;
        state: string;
        errors: { code: string; message: string; file: string }[];
      }[];
      const revision = list[0];
      expect(revision?.commit).toBe(head);
      expect(revision?.state).toBe('invalid');
      const error = revision?.errors.find((e) => e.code === c.code);
      expect(error, JSON.stringify(revision?.errors)).toBeDefined();
      expect(error?.message.length).toBeGreaterThan(10);
      expect(failures).toBe(0);
      expect(sync.ms).toBeLessThan(MAX_SYNC_MS);
      if (!c.memoryGap) expect(growth).toBeLessThan(MAX_PEAK_GROWTH_BYTES);
      figures.push(
        `${c.name}: sync ${Math.round(sync.ms)} ms, peak RSS +${(growth / 2 ** 20).toFixed(1)} MiB, ` +
          `health slowest ${Math.round(maxMs)} ms over ${polls} polls; ${c.code}: ${error?.message.slice(0, 120)}`,
      );
    }, 60_000);
  }
});
