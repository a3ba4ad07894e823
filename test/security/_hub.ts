import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildHub, createLogger, HubConfig, openStore, type Store } from '@stems/hub';
import { generateKeyPair, type KeyPair } from '@stems/shared';
import { onTestFinished } from 'vitest';
import { type TestHub, testHub } from '../../packages/hub/src/_test-hub.js';
import { TestAgent } from '../../packages/hub/src/ws/_test-agent.js';
import { makeGitRepo, type RepoFiles } from '../helpers/git-http.js';

export const CLUSTER_YAML = `apiVersion: stems/v1
cluster: colab
vars: { greeting: hello }
nodes:
  good: {}
  noisy: {}
groups:
  all: { roles: [base] }
`;
export const ROLE_YAML = `resources:
  - file: /etc/motd
    content: "{{vars.greeting}} from {{node.name}}\\n"
    mode: "0644"
`;

export interface SecurityHub {
  hub: TestHub;
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Headers with an operator / admin / viewer token. */
  as: { operator: Record<string, string>; admin: Record<string, string>; viewer: Record<string, string> };
  keys: Record<'good' | 'noisy', KeyPair>;
}

/**
 * A real hub (real SQLite file, real key) following a real git repo, listening
 * on 127.0.0.1:0, with nodes `good` and `noisy` accepted and a bundle approved
 * for each. Closed when the test ends.
 */
export async function securityHub(opts: { files?: RepoFiles; helloTimeoutMs?: number } = {}): Promise<SecurityHub> {
  const repo = await makeGitRepo(opts.files ?? { 'cluster.yaml': CLUSTER_YAML, 'roles/base/role.yaml': ROLE_YAML });
  onTestFinished(() => repo.cleanup());
  const hub = await testHub({ repoUrl: repo.dir, ...(opts.helloTimeoutMs ? { helloTimeoutMs: opts.helloTimeoutMs } : {}) });
  await hub.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = hub.app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const as = { operator: bearer(hub.token('operator')), admin: bearer(hub.token('admin')), viewer: bearer(hub.token('viewer')) };
  const keys = { good: generateKeyPair(), noisy: generateKeyPair() };
  const post = async (path: string, payload?: object) => {
    const res = await hub.app.inject({ method: 'POST', url: path, headers: as.operator, ...(payload ? { payload } : {}) });
    if (res.statusCode >= 300) throw new Error(`${path}: ${res.statusCode} ${res.body}`);
  };
  await post('/api/v1/sync');
  for (const node of ['good', 'noisy'] as const) {
    const agent = await TestAgent.connect(url, node, keys[node]);
    await agent.hello();
    await agent.next('pending');
    agent.close();
    await post(`/api/v1/nodes/${node}/accept`);
  }
  await post('/api/v1/approvals', { rev: 'latest' });
  return { hub, url, port, as, keys };
}

/** Every row of every table, to prove a request changed nothing. */
export function dumpStore(store: Store): Record<string, unknown[]> {
  const tables = store.db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all();
  return Object.fromEntries(tables.map(({ name }) => [name, store.db.prepare(`SELECT * FROM "${name}"`).all()]));
}

/** A hub on an existing data dir (its SQLite file): build, close, build again to restart it. */
export async function hubOnDataDir(dir: string, now: () => Date): ReturnType<typeof buildHub> {
  const none = async (): Promise<never> => {
    throw new RangeError('this test hub has no repository');
  };
  return buildHub({
    store: openStore(join(dir, 'hub.db')),
    key: generateKeyPair(),
    config: HubConfig.parse({ repo: { url: join(dir, 'no-repo') } }),
    logger: createLogger({ level: 'silent' }),
    compile: none,
    fetch: none,
    now,
  });
}

export { TestAgent };
