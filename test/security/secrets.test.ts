import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '@stems/hub';
import { readKeyFile } from '@stems/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHttpServer, type GitRepo, makeGitRepo, serveGitHttp } from '../helpers/git-http.js';
import { AGENT_BIN, assertBuilt, type Daemon, eventually, freePort, HUB_BIN, runCli, startDaemon } from '../helpers/processes.js';

// A whole lifecycle through the real CLIs (hub and agent processes), with a
// `sensitive: true` file holding a known secret. Then every byte the system
// showed anyone is scanned for every secret it holds: node and hub secret
// keys, operator, local-admin and join tokens, the sensitive content.

const SENSITIVE = `db-password-${randomBytes(12).toString('hex')}`;

const FILES = {
  'cluster.yaml': `apiVersion: stems/v1
cluster: lab
nodes:
  alpha: {}
groups:
  all: { roles: [base] }
`,
  'roles/base/role.yaml': `resources:
  - directory: /etc/app
  - file: /etc/app/app.conf
    content: "port = 8001\\n"
  - file: /etc/app/secret.conf
    content: "password = ${SENSITIVE}\\n"
    mode: "0600"
    sensitive: true
`,
};

/** Each secret in the encodings it could leak in. */
function forms(secret: string | Uint8Array): string[] {
  if (typeof secret === 'string') return [secret];
  const b = Buffer.from(secret);
  return [b.toString('base64'), b.toString('base64url'), b.toString('hex')];
}

describe('secrets stay secret across a whole lifecycle', () => {
  let repo: GitRepo;
  let server: GitHttpServer;
  let work: string;
  let hub: Daemon | undefined;
  let agent: Daemon | undefined;
  /** Everything shown to anyone: [where, text]. */
  const shown: [string, string][] = [];
  /** Every secret: [what, text form]. */
  const secrets: [string, string][] = [];
  const hubEnv = () => ({ STEMS_HUB_DATA: join(work, 'hub') });
  const agentEnv = () => ({
    STEMS_AGENT_CONFIG: join(work, 'alpha', 'agent.yaml'),
    STEMS_AGENT_STATE: join(work, 'alpha', 'state'),
    STEMS_AGENT_ROOT: join(work, 'alpha', 'root'),
  });
  const cli = async (bin: string, args: string[], env: Record<string, string>, secretOutput = false) => {
    const result = await runCli(bin, args, { env });
    if (result.code !== 0) throw new Error(`${args.join(' ')} exited ${result.code}: ${result.stdout}${result.stderr}`);
    // A command whose job is to print a secret once (token create) is the one place it may appear.
    if (!secretOutput) shown.push([`${bin.split('/').at(-1)} ${args.join(' ')}`, result.stdout + result.stderr]);
    return result.stdout;
  };
  const hubCli = (...args: string[]) => cli(HUB_BIN, args, hubEnv());

  beforeAll(async () => {
    assertBuilt();
    work = await mkdtemp(join(tmpdir(), 'stems-secrets-'));
    repo = await makeGitRepo(FILES, 'first');
    server = await serveGitHttp(repo.dir);
    const listen = `127.0.0.1:${await freePort()}`;
    await hubCli('init', '--repo', server.url, '--listen', listen, '--fetch-interval', '5s');
    hub = startDaemon(HUB_BIN, ['serve', '--log-level', 'debug'], hubEnv());
    await hub.waitFor(/hub listening/);
    const operator = JSON.parse(await cli(HUB_BIN, ['token', 'create', '--role', 'operator', '--json'], hubEnv(), true)).token as string;
    const viewer = JSON.parse(await cli(HUB_BIN, ['token', 'create', '--role', 'viewer', '--json'], hubEnv(), true)).token as string;
    const join_ = JSON.parse(await cli(HUB_BIN, ['join-token', 'create', '--json'], hubEnv(), true)).token as string;
    const key = (await hubCli('key')).trim();
    await cli(
      AGENT_BIN,
      ['enroll', '--hub', `http://${listen}`, '--hub-key', key, '--token', join_, '--name', 'alpha', '--offline'],
      agentEnv(),
    );
    agent = startDaemon(AGENT_BIN, ['run'], { ...agentEnv(), STEMS_LOG_LEVEL: 'debug' });
    await eventually(async () => {
      const nodes = JSON.parse(await hubCli('nodes', '--json')) as { state: string }[];
      return nodes[0]?.state === 'accepted' ? true : undefined;
    }, 'node accepted');
    await eventually(
      async () => ((JSON.parse(await hubCli('revisions', '--json')) as unknown[]).length > 0 ? true : undefined),
      'a revision',
    );
    await hubCli('diff', 'latest');
    await hubCli('approve', 'latest', '--note', 'secrets test');
    await eventually(
      async () => {
        const s = JSON.parse(await hubCli('status', '--json')) as { nodes: { state: string; serial: number }[] };
        return s.nodes[0]?.state === 'converged' && s.nodes[0].serial === 1 ? true : undefined;
      },
      'converged',
      30_000,
      250,
    );
    expect(await readFile(join(agentEnv().STEMS_AGENT_ROOT, 'etc/app/secret.conf'), 'utf8')).toBe(`password = ${SENSITIVE}\n`);
    // Every read the system offers, by each kind of caller.
    await hubCli('status');
    await hubCli('revisions');
    await hubCli('nodes');
    await cli(HUB_BIN, ['status', '--json'], agentEnv()); // a node, signing with its key
    await cli(AGENT_BIN, ['plan', '--json'], agentEnv());
    const head = repo.head;
    for (const [token, paths] of [
      [viewer, ['/status', '/revisions', `/revisions/${head}/diff`, '/revisions/latest/diff?node=alpha', '/nodes', '/nodes/alpha/drift']],
      [operator, ['/status']],
    ] as const) {
      for (const path of paths) {
        const res = await fetch(`http://${listen}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
        shown.push([`GET ${path}`, await res.text()]);
      }
    }
    // Failed logins with real-looking secrets must not echo them either.
    const res = await fetch(`http://${listen}/api/v1/status`, { headers: { authorization: `Bearer ${operator}x` } });
    shown.push(['GET /status with a wrong token', await res.text()]);
    await agent.stop();
    await hub.stop();
    shown.push(['hub log', hub.output()], ['agent log', agent.output()]);

    const data = hubEnv().STEMS_HUB_DATA;
    const state = agentEnv().STEMS_AGENT_STATE;
    secrets.push(
      ...forms((await readKeyFile(join(data, 'hub.key'))).secretKey).map((f): [string, string] => ['hub secret key', f]),
      ...forms((await readKeyFile(join(state, 'node.key'))).secretKey).map((f): [string, string] => ['node secret key', f]),
      // the seed alone (first 32 bytes) is as good as the key
      ...forms((await readKeyFile(join(state, 'node.key'))).secretKey.subarray(0, 32)).map((f): [string, string] => ['node key seed', f]),
      ...forms((await readKeyFile(join(data, 'hub.key'))).secretKey.subarray(0, 32)).map((f): [string, string] => ['hub key seed', f]),
      ['operator token', operator],
      ['viewer token', viewer],
      ['join token', join_],
      ['local admin token', (await readFile(join(data, 'local-admin.token'), 'utf8')).trim()],
      ['sensitive content', SENSITIVE],
    );
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await hub?.stop();
    await server?.close();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('no output, log or API answer holds a secret', () => {
    expect(shown.length).toBeGreaterThan(20);
    expect(secrets.length).toBeGreaterThanOrEqual(17);
    const leaks = shown.flatMap(([where, text]) => secrets.filter(([, s]) => text.includes(s)).map(([what]) => `${what} in ${where}`));
    expect(leaks).toEqual([]);
    // the sensitive file was really handled (its resource id appears), only its content is hidden
    expect(shown.some(([, text]) => text.includes('/etc/app/secret.conf'))).toBe(true);
    const bytes = shown.reduce((n, [, t]) => n + t.length, 0);
    console.info(`[security] secrets: ${secrets.length} secret forms × ${shown.length} outputs (${bytes} bytes) scanned, 0 leaks`);
  });

  it('the database holds no secret outside the signed bundle payloads', () => {
    const store = openStore(join(hubEnv().STEMS_HUB_DATA, 'hub.db'));
    try {
      const tables = store.db
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .all();
      const leaks: string[] = [];
      let cells = 0;
      for (const { name } of tables) {
        for (const row of store.db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]) {
          for (const [column, value] of Object.entries(row)) {
            // The signed payload must carry the file to the node: that one column may hold it.
            if (name === 'bundles' && column === 'envelope') continue;
            cells++;
            const text = String(value);
            for (const [what, s] of secrets) if (text.includes(s)) leaks.push(`${what} in ${name}.${column}`);
          }
        }
      }
      expect(leaks).toEqual([]);
      expect(cells).toBeGreaterThan(50);
    } finally {
      store.close();
    }
  });

  it('key and state files are 0600 and their directories 0700', async () => {
    const loose: string[] = [];
    for (const dir of [hubEnv().STEMS_HUB_DATA, agentEnv().STEMS_AGENT_STATE]) {
      if (((await stat(dir)).mode & 0o777) !== 0o700) loose.push(`${dir} is ${((await stat(dir)).mode & 0o777).toString(8)}`);
      for (const name of await readdir(dir)) {
        const st = await stat(join(dir, name));
        if (!st.isFile()) continue;
        if ((st.mode & 0o077) !== 0) loose.push(`${join(dir, name)} is ${(st.mode & 0o777).toString(8)}`);
      }
    }
    expect(loose).toEqual([]);
  });
});
