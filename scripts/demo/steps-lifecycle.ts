import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commitBrokenTemplate, commitContactChange } from './repo.js';
import {
  agent,
  converged,
  type DemoContext,
  hub,
  NODES,
  type NodeName,
  nodeRoot,
  type Step,
  showStatus,
  waitUntil,
  watchStatus,
} from './tour.js';

/**
 * The second half of the tour, the lifecycle a user lives: see a revision,
 * preview it, approve it, watch it converge, catch drift, change, roll back.
 */

const short = (commit: string) => commit.slice(0, 12);
const managed = (ctx: DemoContext, node: NodeName, path: string) => join(nodeRoot(ctx, node), path);

async function showFile(ctx: DemoContext, node: NodeName, path: string): Promise<string> {
  const full = managed(ctx, node, path);
  ctx.out.command(['cat', full]);
  const text = await readFile(full, 'utf8');
  ctx.out.block(text);
  return text;
}

const questionsLine = async (ctx: DemoContext, node: NodeName) =>
  (await readFile(managed(ctx, node, '/etc/motd'), 'utf8')).split('\n').find((l) => l.includes('questions:')) ?? '';

const revisions: Step = {
  title: 'The hub fetches the repo: one revision, validated',
  async run(ctx) {
    // `hub serve` fetches every fetchIntervalSec; `hub sync` fetches now.
    await hub(ctx, ['sync']);
    await hub(ctx, ['revisions']);
    const [newest] = JSON.parse(await hub(ctx, ['revisions', '--json'], { quiet: true })) as { state: string }[];
    // Nothing after this works on an invalid revision: say so here, not in a timeout later.
    if (newest?.state !== 'valid') throw new Error('the hub found the demo repository invalid (see the errors above)');
  },
};

const diff: Step = {
  title: 'Preview it: each node rendered with its own facts, as diffs',
  async run(ctx) {
    // The agents send their facts when they connect; until then a preview is partial.
    await waitUntil(ctx, 'facts from all three agents', async () => {
      const list = JSON.parse(await hub(ctx, ['diff', 'latest', '--json'], { quiet: true })) as {
        node: string;
        waitingForFacts: unknown[];
      }[];
      return list.length === NODES.length && list.every((d) => d.waitingForFacts.length === 0) ? list : undefined;
    });
    await hub(ctx, ['diff', 'latest']);
  },
};

const approve: Step = {
  title: 'Approve it: the hub signs one bundle per node',
  async run(ctx) {
    if (ctx.breakMode === 'invalid-revision') {
      ctx.out.note('STEMS_DEMO_BREAK=invalid-revision: committing a broken template and approving it');
      const bad = await commitBrokenTemplate(ctx.repoDir);
      await hub(ctx, ['sync']);
      await hub(ctx, ['approve', short(bad), '--note', 'this must be refused']);
      return;
    }
    await hub(ctx, ['approve', 'latest', '--note', 'first rollout']);
  },
};

const converge: Step = {
  title: 'The agents pull, verify, render and apply: converged',
  async run(ctx) {
    await converged(ctx, 1);
    await showStatus(ctx);
  },
};

const rendered: Step = {
  title: 'Files rendered from facts on each node',
  async run(ctx) {
    const facts = JSON.parse(await agent(ctx, 'projector', ['facts', '--json'], { quiet: true })) as {
      cpu: { cores: number };
      memory: { totalBytes: number };
      gpus: unknown[];
    };
    ctx.out.command(['stems-agent', 'facts', '--json'], 'projector');
    ctx.out.note(`projector reports ${facts.cpu.cores} cores and ${Math.floor(facts.memory.totalBytes / 2 ** 20)} MiB of memory`);
    ctx.out.note('roles/docker/files/daemon.json.hbs: downloads = cores / 2 (at least 1), shm = memory / 16 (at least 64 MiB)');
    if (facts.gpus.length === 0) {
      ctx.out.note('projector is in group gpu but reports no GPU here, so the gpu role (`when: facts.gpus`) is left out on it');
    }
    await showFile(ctx, 'projector', '/etc/docker/daemon.json');
    await showFile(ctx, 'director', '/etc/motd');
  },
};

const drift: Step = {
  title: 'Drift: edit a managed file by hand on two nodes',
  async run(ctx) {
    const original = await readFile(managed(ctx, 'cooperator', '/etc/motd'), 'utf8');
    for (const node of ['cooperator', 'director'] as const) {
      const path = managed(ctx, node, '/etc/motd');
      ctx.out.command(['echo', 'edited by hand', '>>', path]);
      await appendFile(path, 'edited by hand\n');
    }
    const started = Date.now();
    await waitUntil(ctx, 'cooperator to repair /etc/motd', async () =>
      (await readFile(managed(ctx, 'cooperator', '/etc/motd'), 'utf8')) === original ? true : undefined,
    );
    ctx.out.note(`cooperator (drift: enforce) put /etc/motd back after ${((Date.now() - started) / 1000).toFixed(1)}s`);
    await watchStatus(ctx, 'director to report drift', (s) =>
      s.nodes.some((n) => n.name === 'director' && n.state === 'drifted' && n.drift > 0),
    );
    const kept = (await readFile(managed(ctx, 'director', '/etc/motd'), 'utf8')).includes('edited by hand');
    if (!kept) throw new Error('director has policy drift: report, yet its hand edit of /etc/motd is gone');
    ctx.out.note('director (policy: { drift: report }) reported it and left the edit in place');
    await showStatus(ctx);
    ctx.out.note('`hub status` exits 1 while a node is drifted, failed or offline, so scripts and monitors can act on it');
  },
};

const change: Step = {
  title: 'Commit a change, preview it, approve it',
  async run(ctx) {
    const contact = 'helpdesk@colab.lan';
    ctx.out.command(['git', 'commit', '-am', `colab: questions go to ${contact}`]);
    ctx.out.note('cluster.yaml: vars.admin_contact: ops@colab.lan → helpdesk@colab.lan');
    const commit = await commitContactChange(ctx.repoDir, contact);
    await hub(ctx, ['sync']);
    await hub(ctx, ['diff', 'latest', '--node', 'cooperator']);
    await hub(ctx, ['approve', 'latest', '--note', 'new helpdesk address']);
    await converged(ctx, 2, commit);
    for (const node of NODES) ctx.out.note(`${node} /etc/motd: ${(await questionsLine(ctx, node)).trim()}`);
  },
};

const rollback: Step = {
  title: 'Roll back to the first revision (a new, higher serial)',
  async run(ctx) {
    const first = ctx.state.first;
    if (!first) throw new Error('no first revision recorded');
    await hub(ctx, ['rollback', '--to', short(first), '--note', 'back to the first revision']);
    await converged(ctx, 3, first);
    for (const node of NODES) ctx.out.note(`${node} /etc/motd: ${(await questionsLine(ctx, node)).trim()}`);
  },
};

const finalStatus: Step = {
  title: 'Where the cluster stands',
  async run(ctx) {
    await showStatus(ctx);
    await hub(ctx, ['revisions']);
  },
};

export const LIFECYCLE_STEPS: readonly Step[] = [revisions, diff, approve, converge, rendered, drift, change, rollback, finalStatus];
