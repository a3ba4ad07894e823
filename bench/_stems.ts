/**
 * Stems set up the way a user sets it up, for benchmarks: a git repo with the
 * bench scenario, a real hub (`hub init`, `hub serve`), a real agent enrolled
 * with a join token that pulls and applies the approved bundle. Needs `pnpm build`.
 */
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type GitRepo, makeGitRepo } from '../test/helpers/git-http.js';
import { AGENT_BIN, type Daemon, eventually, freePort, HUB_BIN, runOk, startDaemon } from '../test/helpers/processes.js';
import { serviceEnv } from './_measure.js';
import { fileName, TEMPLATE, varsOf } from './_scenario.js';

/** Where the agent puts the files, below its root prefix. */
export const BENCH_DIR = '/etc/bench';

/** The bench scenario as a stems repo: one node, one role, N templated files. */
export function benchRepo(n: number): Record<string, string> {
  const resources = Array.from({ length: n }, (_, i) => {
    const v = varsOf(i);
    return `  - file: ${BENCH_DIR}/${fileName(i)}\n    template: item.hbs\n    mode: "0644"\n    vars: { name: ${v.name}, value: ${v.value} }`;
  });
  return {
    'cluster.yaml': 'apiVersion: stems/v1\ncluster: bench\nnodes:\n  bench-node: {}\ngroups:\n  all: { roles: [bench] }\n',
    'roles/bench/role.yaml': `resources:\n${resources.join('\n')}\n`,
    'roles/bench/files/item.hbs': TEMPLATE,
  };
}

/**
 * The agent as a node runs it: /usr/local/bin/stems-agent (install.sh) execs
 * `node` on the one-file bundle. The repo's bin/stems-agent is a development
 * stub in front of the same bundle (one more module to load).
 */
export const INSTALLED_AGENT = {
  cmd: process.execPath,
  argv: [fileURLToPath(new URL('../packages/agent/dist/stems-agent.mjs', import.meta.url))],
};

export function agentEnvOf(work: string): NodeJS.ProcessEnv {
  return {
    STEMS_AGENT_CONFIG: join(work, 'agent', 'agent.yaml'),
    STEMS_AGENT_STATE: join(work, 'agent', 'state'),
    STEMS_AGENT_ROOT: join(work, 'root'),
  };
}

export interface StemsSetup {
  hubEnv: NodeJS.ProcessEnv;
  agentEnv: NodeJS.ProcessEnv;
  hubUrl: string;
  /** An admin API token (for the hub's HTTP API). */
  token: string;
  hub: Daemon;
  agent: Daemon;
  git: GitRepo;
  /** Stops the agent and the hub and removes the git repo (not `work`). */
  stop(): Promise<void>;
}

/**
 * Sets up hub and agent in `work`, approves the repo's first revision and
 * waits until the agent daemon applied it. Both daemons keep running: stop()
 * them when done. `agentConfig` is appended to the enrolled agent.yaml (intervals).
 */
export async function setupStems(opts: { work: string; n: number; agentConfig?: string }): Promise<StemsSetup> {
  const { work } = opts;
  const git = await makeGitRepo(benchRepo(opts.n), 'bench');
  const hubEnv = { STEMS_HUB_DATA: join(work, 'hub'), STEMS_AGENT_CONFIG: join(work, 'no-agent.yaml') };
  const agentEnv = agentEnvOf(work);
  const listen = `127.0.0.1:${await freePort()}`;
  await runOk(HUB_BIN, ['init', '--repo', git.dir, '--listen', listen], hubEnv);
  const hub = startDaemon(HUB_BIN, ['serve'], hubEnv);
  let agent: Daemon | undefined;
  const stop = async () => {
    await agent?.stop();
    await hub.stop();
    await git.cleanup();
  };
  try {
    await hub.waitFor(/hub listening/, 30_000);
    const key = (await runOk(HUB_BIN, ['key'], hubEnv)).trim();
    const token = JSON.parse(await runOk(HUB_BIN, ['token', 'create', '--role', 'admin', '--json'], hubEnv)).token as string;
    const join_ = JSON.parse(await runOk(HUB_BIN, ['join-token', 'create', '--json'], hubEnv)).token as string;
    const hubUrl = `http://${listen}`;
    await runOk(AGENT_BIN, ['enroll', '--hub', hubUrl, '--hub-key', key, '--token', join_, '--name', 'bench-node', '--offline'], agentEnv);
    if (opts.agentConfig) await appendFile(agentEnv.STEMS_AGENT_CONFIG as string, opts.agentConfig);
    agent = startDaemon(INSTALLED_AGENT.cmd, [...INSTALLED_AGENT.argv, 'run'], serviceEnv(agentEnv));
    const cli = async <T>(...args: string[]) => JSON.parse(await runOk(HUB_BIN, args, hubEnv)) as T;
    await eventually(
      async () => ((await cli<{ state: string }[]>('nodes', '--json'))[0]?.state === 'accepted' ? true : undefined),
      'the node accepted',
      60_000,
      250,
    );
    await runOk(HUB_BIN, ['sync'], hubEnv);
    await eventually(
      async () => {
        const revisions = await cli<{ state: string; errors: unknown[] }[]>('revisions', '--json');
        if (revisions[0]?.state === 'invalid') throw new Error(`bench repo is invalid: ${JSON.stringify(revisions[0].errors)}`);
        return revisions[0]?.state === 'valid' ? true : undefined;
      },
      'a valid revision',
      60_000,
      250,
    );
    await runOk(HUB_BIN, ['approve', 'latest', '--note', 'bench'], hubEnv);
    await eventually(
      async () => ((await cli<{ nodes: { serial: number }[] }>('status', '--json')).nodes[0]?.serial === 1 ? true : undefined),
      'the bundle applied by the daemon',
      120_000,
      500,
    );
    return { hubEnv, agentEnv, hubUrl, token, hub, agent, git, stop };
  } catch (err) {
    const tail = `${hub.output().slice(-2000)}\n${agent?.output().slice(-2000) ?? ''}`;
    await stop();
    throw new Error(`${(err as Error).message}\n--- daemons:\n${tail}`);
  }
}

/** A GET on the hub's API with an admin token. */
export async function hubApi<T>(setup: Pick<StemsSetup, 'hubUrl' | 'token'>, path: string): Promise<T> {
  const res = await fetch(`${setup.hubUrl}/api/v1${path}`, { headers: { authorization: `Bearer ${setup.token}` } });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
