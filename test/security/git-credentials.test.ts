import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commitFiles, type GitHttpServer, type GitRepo, makeGitRepo, serveGitHttp } from '../helpers/git-http.js';
import { assertBuilt, type Daemon, freePort, HUB_BIN, runCli, startDaemon, waitForRevision } from '../helpers/processes.js';

// The desired-state repo behind HTTP basic auth (the real `git http-backend`),
// the hub configured the documented way (`hub init --repo-user` with the
// password in STEMS_REPO_PASSWORD), real `hub serve` processes logging at
// debug. Sync must work, and the password must show up in no output, log or
// API answer: not with the right password, not with a wrong one, not when the
// git server is gone.

const USER = 'stems-sync';
// Characters that URL-encoding or basic auth would transform, so every form is checked.
const PASSWORD = `pa:ss@w/rd%${randomBytes(12).toString('hex')}`;
const WRONG = `wrong:pw@${randomBytes(12).toString('hex')}`;

const FILES = {
  'cluster.yaml': 'apiVersion: stems/v1\ncluster: lab\nnodes:\n  alpha: {}\ngroups:\n  all: { roles: [base] }\n',
  'roles/base/role.yaml': 'resources:\n  - file: /etc/motd\n    content: "hello\\n"\n',
};

/** A password in every form it could leak in: plain, URL-encoded, inside a basic-auth header. */
function forms(password: string): string[] {
  return [password, encodeURIComponent(password), Buffer.from(`${USER}:${password}`).toString('base64')];
}

describe('git credentials for the desired-state repo', () => {
  let repo: GitRepo;
  let server: GitHttpServer;
  let work: string;
  const daemons: Daemon[] = [];
  /** Everything shown to anyone: [where, text]. */
  const shown: [string, string][] = [];
  let second = '';

  const envOf = (name: string, password?: string) => ({
    STEMS_HUB_DATA: join(work, name),
    STEMS_AGENT_CONFIG: join(work, 'no-agent.yaml'),
    ...(password ? { STEMS_REPO_PASSWORD: password } : {}),
  });
  const hubCli = async (name: string, args: string[], opts: { password?: string; secretOutput?: boolean } = {}) => {
    const result = await runCli(HUB_BIN, args, { env: envOf(name, opts.password) });
    // `token create` prints its token once on purpose; nothing else is exempt.
    if (!opts.secretOutput) shown.push([`${name}: hub ${args.join(' ')}`, result.stdout + result.stderr]);
    return result;
  };
  const serve = async (name: string) => {
    const daemon = startDaemon(HUB_BIN, ['serve', '--log-level', 'debug'], envOf(name));
    daemons.push(daemon);
    await daemon.waitFor(/hub listening/);
    return daemon;
  };

  beforeAll(async () => {
    assertBuilt();
    work = await mkdtemp(join(tmpdir(), 'stems-gitcreds-'));
    repo = await makeGitRepo(FILES, 'first');
    server = await serveGitHttp(repo.dir, { auth: { username: USER, password: PASSWORD } });
    const url = server.url;

    // Without credentials the server refuses: the test server really checks them.
    expect((await fetch(`${url}/info/refs?service=git-upload-pack`)).status).toBe(401);

    // The right password: init, serve at debug level, sync on start and on demand.
    const listen = `127.0.0.1:${await freePort()}`;
    const init = await hubCli('good', ['init', '--repo', url, '--repo-user', USER, '--listen', listen, '--json'], { password: PASSWORD });
    expect(init.code, init.stderr).toBe(0);
    const good = await serve('good');
    const list = async (...args: string[]) => (await hubCli('good', args)).stdout;
    await waitForRevision(list, repo.head);
    second = await commitFiles(repo.dir, { 'roles/base/role.yaml': FILES['roles/base/role.yaml'].replace('hello', 'hi') }, 'second');
    const synced = await hubCli('good', ['sync', '--json']);
    expect(synced.code, synced.stderr).toBe(0);
    expect(JSON.parse(synced.stdout)).toEqual({ added: [{ commit: second, subject: 'second', state: 'valid' }] });
    await hubCli('good', ['revisions']);
    await hubCli('good', ['status', '--json']);
    await hubCli('good', ['diff', 'latest']);
    const token = JSON.parse((await hubCli('good', ['token', 'create', '--role', 'viewer', '--json'], { secretOutput: true })).stdout)
      .token as string;
    for (const path of ['/health', '/status', '/revisions', '/revisions/latest/diff', '/nodes']) {
      const res = await fetch(`http://${listen}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
      shown.push([`GET ${path}`, await res.text()]);
    }

    // A wrong password: the fetch fails with a clear error, in the log and from `hub sync`.
    const wrongListen = `127.0.0.1:${await freePort()}`;
    const wrongInit = await hubCli('wrong', ['init', '--repo', url, '--repo-user', USER, '--listen', wrongListen], { password: WRONG });
    expect(wrongInit.code, wrongInit.stdout + wrongInit.stderr).toBe(0);
    const wrong = await serve('wrong');
    await wrong.waitFor(/sync failed/);
    const refused = await hubCli('wrong', ['sync']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/STEMS_GIT_FETCH[\s\S]*credentials/);
    const refusedJson = await hubCli('wrong', ['sync', '--json']);
    expect(JSON.parse(refusedJson.stderr).error.code).toBe('STEMS_GIT_FETCH');
    await wrong.stop();
    // The same refusal without a server: the CLI works on the data dir directly.
    const direct = await hubCli('wrong', ['sync']);
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain('STEMS_GIT_FETCH');

    // The git server gone: the good hub's next sync fails, and says so.
    await server.close();
    const gone = await hubCli('good', ['sync']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('STEMS_GIT_FETCH');
    await good.stop();
    shown.push(['good hub log', good.output()], ['wrong hub log', wrong.output()]);
  }, 120_000);

  afterAll(async () => {
    for (const d of daemons) await d.stop();
    await server?.close().catch(() => undefined);
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('syncs through basic auth with the user and password given to hub init', async () => {
    const revisions = shown.filter(([where]) => where === 'good: hub revisions').map(([, text]) => text);
    expect(revisions.join('')).toMatch(new RegExp(`^${second.slice(0, 12)}\\s+valid\\s.*second$`, 'm'));
    // hub.yaml holds the password (docs/hub.md) and is readable by the hub's user only.
    const config = await readFile(join(work, 'good', 'hub.yaml'), 'utf8');
    expect(config).toContain(`username: "${USER}"`);
    expect(config).toContain(JSON.stringify(PASSWORD));
    expect((await stat(join(work, 'good', 'hub.yaml'))).mode & 0o777).toBe(0o600);
  });

  it('no output, debug log or API answer shows a password', () => {
    const logs = shown.filter(([where]) => where.endsWith('log')).map(([, text]) => text);
    // The logs saw the fetches, the failure and the request handling (at debug level).
    expect(logs.join('')).toContain('revision fetched');
    expect(logs.join('')).toContain('sync failed');
    const secrets = [...forms(PASSWORD).map((f) => ['password', f]), ...forms(WRONG).map((f) => ['wrong password', f])];
    const leaks = shown.flatMap(([where, text]) => secrets.filter(([, s]) => s && text.includes(s)).map(([what]) => `${what} in ${where}`));
    expect(leaks).toEqual([]);
    expect(shown.length).toBeGreaterThan(15);
  });
});
