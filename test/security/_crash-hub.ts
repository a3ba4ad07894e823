import { join } from 'node:path';
import { expect } from 'vitest';
import { commitFiles, makeGitRepo } from '../helpers/git-http.js';
import { type Daemon, freePort, HUB_BIN, runOk, startDaemon } from '../helpers/processes.js';

/** Nodes in the crash cluster: every approval signs and stores one bundle each, in one transaction. */
export const CRASH_NODES = 50;
export const nodeName = (i: number) => `n${String(i).padStart(2, '0')}`;

const cluster = (greeting: string) =>
  `apiVersion: stems/v1
cluster: crash
vars: { greeting: ${greeting} }
nodes:
${Array.from({ length: CRASH_NODES }, (_, i) => `  ${nodeName(i)}: {}`).join('\n')}
groups:
  all: { roles: [base] }
`;
const ROLE = `resources:
${Array.from({ length: 8 }, (_, i) => `  - file: /etc/crash/f${i}.conf\n    content: "{{vars.greeting}} ${i} from {{node.name}}\\n"\n    mode: "0644"`).join('\n')}
`;

/** A git repo with two valid revisions that differ for every node. */
export async function crashRepo(): Promise<{ dir: string; revisions: [string, string]; cleanup(): Promise<void> }> {
  const repo = await makeGitRepo({ 'cluster.yaml': cluster('hello'), 'roles/base/role.yaml': ROLE }, 'hello');
  const second = await commitFiles(repo.dir, { 'cluster.yaml': cluster('goodbye') }, 'goodbye');
  return { dir: repo.dir, revisions: [repo.head, second], cleanup: repo.cleanup };
}

/** A `hub serve` data dir that survives its process: the test kills and restarts the process on it. */
export interface CrashHub {
  dataDir: string;
  url: string;
  token: string;
  daemon(): Daemon;
  /** Starts `hub serve` and waits until it listens and answers /health. */
  start(): Promise<void>;
  approve(rev: string): Promise<Response>;
}

export async function crashHub(work: string, repoDir: string): Promise<CrashHub> {
  const env = { STEMS_HUB_DATA: join(work, 'hub') };
  const listen = `127.0.0.1:${await freePort()}`;
  // an hour between fetches: each start syncs once, and the two commits are known after the first
  await runOk(HUB_BIN, ['init', '--repo', repoDir, '--listen', listen, '--fetch-interval', '1h'], env);
  const token = (JSON.parse(await runOk(HUB_BIN, ['token', 'create', '--role', 'operator', '--json'], env)) as { token: string }).token;
  const url = `http://${listen}`;
  let current: Daemon | undefined;
  return {
    dataDir: env.STEMS_HUB_DATA,
    url,
    token,
    daemon() {
      if (!current) throw new Error('hub not started');
      return current;
    },
    async start() {
      current = startDaemon(HUB_BIN, ['serve'], env);
      await current.waitFor(/hub listening/, 60_000);
      const res = await fetch(`${url}/api/v1/health`);
      expect(res.status).toBe(200);
    },
    approve: (rev) =>
      fetch(`${url}/api/v1/approvals`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ rev }),
      }),
  };
}
