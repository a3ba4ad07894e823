import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentState } from '@stems/agent';
import type { BundlePayload, Resource } from '@stems/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testHub } from '../../packages/hub/src/_test-hub.js';
import { makeGitRepo } from '../helpers/git-http.js';
import { type AgentUnderTest, agentUnderTest, filesOnlyPayload, signed } from './_agent.js';
import { dumpStore, securityHub } from './_hub.js';
import { pathVectors, repoRelativeVectors, yamlQuote } from './_path-vectors.js';
import { snapshotTree } from './_tree.js';

// Hostile paths at every door: the repo loader (a real repo through the hub's
// compiler), the API (routes that take names and revisions) and the agent (a
// bundle signed with the pinned key, so only the agent's own checks stand).

const VECTORS = pathVectors();

describe('path vectors', () => {
  it('there are at least 200, all distinct', () => {
    expect(VECTORS.length).toBeGreaterThanOrEqual(200);
    expect(new Set(VECTORS.map((v) => v.path)).size).toBe(VECTORS.length);
  });
});

describe('at the repo loader', () => {
  it('a repo using each vector as a managed path or a template path is an invalid revision, with a problem at each line', async () => {
    const templates = repoRelativeVectors();
    const lines = ['resources:'];
    for (const v of VECTORS) lines.push(`  - file: ${yamlQuote(v.path)}`, '    content: "x"');
    for (const [i, t] of templates.entries()) lines.push(`  - file: /etc/t${i}`, `    template: ${yamlQuote(t)}`);
    const repo = await makeGitRepo({
      'cluster.yaml': 'apiVersion: stems/v1\ncluster: colab\nnodes:\n  good: {}\ngroups:\n  all: { roles: [base] }\n',
      'roles/base/role.yaml': `${lines.join('\n')}\n`,
      'roles/base/files/motd.hbs': 'hello\n',
    });
    try {
      const hub = await testHub({ repoUrl: repo.dir });
      const op = { authorization: `Bearer ${hub.token('operator')}` };
      expect((await hub.app.inject({ method: 'POST', url: '/api/v1/sync', headers: op })).statusCode).toBe(200);
      const [revision] = (await hub.app.inject({ method: 'GET', url: '/api/v1/revisions', headers: op })).json();
      expect(revision.state).toBe('invalid');
      const errors = revision.errors as { code: string; file: string; line: number }[];
      const flagged = new Set(errors.filter((e) => e.file === 'roles/base/role.yaml').map((e) => e.line));
      // resource i starts on line 2 + 2i; a template path is on the line after its resource's first
      const missed = VECTORS.filter((_, i) => !flagged.has(2 + 2 * i)).map((v) => v.path);
      expect(missed).toEqual([]);
      const missedTemplates = templates.filter((_, j) => !flagged.has(2 + 2 * VECTORS.length + 2 * j + 1));
      expect(missedTemplates).toEqual([]);
      expect(new Set(errors.map((e) => e.code))).toEqual(new Set(['STEMS_PATH_INVALID', 'STEMS_PATH_TRAVERSAL', 'STEMS_PATH_FORBIDDEN']));
      const approve = await hub.app.inject({ method: 'POST', url: '/api/v1/approvals', headers: op, payload: { rev: 'latest' } });
      expect(approve.statusCode).toBe(404);
      expect(hub.app.hub.store.bundles.approvals()).toEqual([]);
      console.info(
        `[security] paths at the repo loader: ${VECTORS.length} managed + ${templates.length} template vectors → ${errors.length} problems`,
      );
    } finally {
      await repo.cleanup();
    }
  }, 60_000);
});

describe('at the API', () => {
  it('routes taking node names and revisions refuse every vector with a 4xx code and change nothing', async () => {
    const h = await securityHub();
    const before = dumpStore(h.hub.app.hub.store);
    let tried = 0;
    for (const { path } of VECTORS) {
      const e = encodeURIComponent(path);
      const requests = [
        { method: 'POST' as const, url: `/api/v1/nodes/${e}/accept` },
        { method: 'POST' as const, url: `/api/v1/nodes/${e}/revoke` },
        { method: 'GET' as const, url: `/api/v1/nodes/${e}/drift` },
        { method: 'GET' as const, url: `/api/v1/revisions/${e}/diff` },
        { method: 'GET' as const, url: `/api/v1/revisions/latest/diff?node=${e}` },
        { method: 'POST' as const, url: '/api/v1/approvals', payload: { rev: path } },
        { method: 'POST' as const, url: '/api/v1/approvals', payload: { rev: 'latest', nodes: [path] } },
        { method: 'POST' as const, url: '/api/v1/rollbacks', payload: { to: path } },
      ];
      for (const r of requests) {
        const res = await h.hub.app.inject({ ...r, headers: h.as.admin });
        tried++;
        expect([400, 404, 409, 414], `${r.method} ${r.url} ${JSON.stringify(r.payload)}: ${res.statusCode}`).toContain(res.statusCode);
        expect(res.json().error.code, `${r.url}`).toMatch(/^STEMS_(REQUEST_INVALID|NOT_FOUND|NODE_NOT_FOUND|REVISION_NOT_FOUND)$/);
      }
    }
    expect(dumpStore(h.hub.app.hub.store)).toEqual(before);
    console.info(`[security] paths at the API: ${tried} requests refused`);
  }, 60_000);
});

describe('at the agent', () => {
  let agent: AgentUnderTest;
  beforeEach(async () => {
    agent = await agentUnderTest();
  });
  afterEach(async () => {
    await agent.fx.cleanup();
  });

  /** Resources of every path-bearing type, each carrying the vector. */
  function carriers(path: string, payload: BundlePayload): Resource[] {
    const [directory, file] = payload.resources as [Resource, Resource];
    const common = { notify: [], drift: 'enforce' as const, origin: 'role.yaml:1:1' };
    return [
      { ...file, path, id: `file:${path}` } as Resource,
      { ...directory, path, id: 'd' } as Resource,
      { type: 'symlink', path, target: '/etc/shadow', id: 's', ...common },
      { type: 'absent', path, id: 'a', ...common },
      { type: 'exec', argv: ['true'], creates: path, timeoutMs: 1000, refreshonly: false, id: 'e', ...common },
      { type: 'exec', argv: ['true'], cwd: path, timeoutMs: 1000, refreshonly: false, id: 'c', ...common },
    ];
  }

  it('a bundle signed with the pinned key but carrying any vector is refused before anything is written', async () => {
    const state = new AgentState(agent.fx.stateDir);
    const rootBefore = await snapshotTree(agent.fx.root);
    const stateBefore = await snapshotTree(agent.fx.stateDir);
    let tried = 0;
    let rejected = 0;
    for (const { path } of VECTORS) {
      const base = filesOnlyPayload({ serial: 9 });
      for (const resource of carriers(path, base)) {
        const outcome = await agent.receive(signed({ ...base, resources: [resource] }, agent.fx.hub), state);
        tried++;
        if (!outcome.accepted && outcome.error.code === 'STEMS_BUNDLE_MALFORMED') rejected++;
        else expect.fail(`${resource.type} at ${JSON.stringify(path)}: ${outcome.accepted ? 'accepted' : outcome.error.code}`);
      }
    }
    expect(rejected).toBe(tried);
    expect(await snapshotTree(agent.fx.root)).toEqual(rootBefore);
    expect(await snapshotTree(agent.fx.stateDir)).toEqual(stateBefore);
    expect(await new AgentState(agent.fx.stateDir).lastSerial()).toBe(0);
    // The same bundle with a good path is accepted: the vectors alone were refused.
    expect((await agent.receive(signed(filesOnlyPayload({ serial: 9 }), agent.fx.hub), state)).accepted).toBe(true);
    console.info(`[security] paths at the agent: ${tried} signed bundles tried, ${rejected} rejected`);
  }, 60_000);

  it('a symlink planted under the root (Puppet CVE-2011-3869) is never followed by a write', async () => {
    // Someone on the node points /etc/motd at a file outside the root, and /etc/app at a directory outside it.
    const outside = join(agent.fx.dir, 'outside');
    await mkdir(join(outside, 'dir'), { recursive: true });
    await writeFile(join(outside, 'shadow'), 'root:secret\n');
    await mkdir(join(agent.fx.root, 'etc'), { recursive: true });
    await symlink(join(outside, 'shadow'), join(agent.fx.root, 'etc/motd'));
    await symlink(join(outside, 'dir'), join(agent.fx.root, 'etc/app'));
    const before = await snapshotTree(outside);
    const outcome = await agent.receive(signed(filesOnlyPayload({ serial: 9 }), agent.fx.hub), new AgentState(agent.fx.stateDir));
    expect(outcome.report.status).not.toBe('changed');
    expect(JSON.stringify(outcome.report)).toContain('STEMS_APPLY_SYMLINK');
    expect(await snapshotTree(outside)).toEqual(before);
    expect(await readFile(join(outside, 'shadow'), 'utf8')).toBe('root:secret\n');
  });
});
