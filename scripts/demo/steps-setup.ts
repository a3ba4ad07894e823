import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from '../../test/helpers/git-http.js';
import { AGENT_BIN, HUB_BIN } from '../../test/helpers/processes.js';
import { makeDemoRepo, REPO_NOTES } from './repo.js';
import { agent, hub, hubEnv, NODES, nodeDir, nodeEnv, type Step } from './tour.js';

/**
 * The first half of the tour: a repo, a hub and three enrolled agents, set up
 * the way docs/hub.md and docs/agent.md tell a user to.
 */

/**
 * Short agent intervals so the tour sees health within seconds and drift even
 * where the file watcher cannot (docs/drift-and-status.md): written into each
 * agent.yaml (docs/agent.md, `intervals`). Not shorter: three agents sampling
 * health (which runs df) every second would slow a small machine down.
 */
const DEMO_INTERVALS = { driftMs: 5_000, healthMs: 3_000 };

const makeRepo: Step = {
  title: 'Make a desired-state repo from examples/colab (git)',
  async run(ctx) {
    ctx.state.first = await makeDemoRepo(ctx.examples, ctx.repoDir);
    for (const note of REPO_NOTES) ctx.out.note(note);
    ctx.out.command(['git', '-C', ctx.repoDir, 'log', '--oneline']);
    ctx.out.block(await git(ctx.repoDir, 'log', '--oneline'));
  },
};

const startHub: Step = {
  title: 'Start the hub (SQLite in a temp data dir)',
  async run(ctx) {
    await hub(ctx, ['init', '--repo', ctx.repoDir, '--listen', ctx.listen, '--fetch-interval', '5s']);
    ctx.out.command(['hub', 'serve', '&']);
    const daemon = ctx.sup.start({
      name: 'hub serve',
      bin: HUB_BIN,
      args: ['serve'],
      env: hubEnv(ctx),
      logPath: join(ctx.work, 'hub.log'),
    });
    ctx.state.hub = daemon;
    await ctx.sup.waitForLog(daemon, /hub listening/, 20_000);
    ctx.out.note(`hub serve: pid ${daemon.pid}, listening on http://${ctx.listen}, log ${daemon.logPath}`);
  },
};

const enroll: Step = {
  title: 'Enroll cooperator, projector and director with one-time join tokens',
  async run(ctx) {
    if (ctx.breakMode === 'kill-hub' && ctx.state.hub) {
      ctx.out.note('STEMS_DEMO_BREAK=kill-hub: killing the hub');
      process.kill(ctx.state.hub.pid, 'SIGKILL');
    }
    const key = (await hub(ctx, ['key'])).trim();
    const url = `http://${ctx.listen}`;
    ctx.out.command(['hub', 'join-token', 'create', '--json']);
    ctx.out.note('one token per node; each enrolls and accepts one node, once');
    // The three nodes are independent: enroll them side by side, print in order.
    const outputs = await Promise.all(
      NODES.map(async (node) => {
        await mkdir(nodeDir(ctx, node), { recursive: true });
        const { token } = JSON.parse(await hub(ctx, ['join-token', 'create', '--json'], { quiet: true })) as { token: string };
        const args = ['enroll', '--hub', url, '--hub-key', key, '--token', token, '--name', node];
        const stdout = await agent(ctx, node, args, { quiet: true });
        const intervals = Object.entries(DEMO_INTERVALS).map(([k, v]) => `  ${k}: ${v}\n`);
        await appendFile(nodeEnv(ctx, node).STEMS_AGENT_CONFIG, `intervals:\n${intervals.join('')}`);
        return { node, args: args.map((a) => (a === token ? 'stemsjoin_…' : a)), stdout };
      }),
    );
    for (const { node, args, stdout } of outputs) {
      ctx.out.command(['stems-agent', ...args], node);
      ctx.out.block(stdout);
    }
    const shown = Object.entries(DEMO_INTERVALS).map(([k, v]) => `${k}: ${v}`);
    ctx.out.note(`each agent.yaml also gets short intervals for the demo (${shown.join(', ')})`);
    await hub(ctx, ['nodes']);
  },
};

const startAgents: Step = {
  title: 'Start the three agents, each with its own --root',
  async run(ctx) {
    for (const node of NODES) {
      ctx.out.command(['stems-agent', 'run', '&'], node);
      const env = nodeEnv(ctx, node);
      const daemon = ctx.sup.start({
        name: `agent ${node}`,
        bin: AGENT_BIN,
        args: ['run'],
        env,
        logPath: join(nodeDir(ctx, node), 'agent.log'),
      });
      ctx.out.note(`pid ${daemon.pid}, root ${env.STEMS_AGENT_ROOT}, log ${daemon.logPath}`);
    }
  },
};

export const SETUP_STEPS: readonly Step[] = [makeRepo, startHub, enroll, startAgents];
