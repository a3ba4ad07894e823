import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitRepo, makeGitRepo } from '../helpers/git-http.js';
import { AGENT_BIN, eventually, HUB_BIN, runOk } from '../helpers/processes.js';
import { type HubProcess, startHubProcess } from '../security/_hub-process.js';

// `hub status --watch` as a user runs it: the real CLI against a real hub
// over HTTP (--hub/--token in the environment), stopped with Ctrl-C. On a
// terminal it redraws in place; piped with --json it prints one JSON document
// per refresh, which a script can read line by line.

const ESC = '\u001b';
const CLEAR = `${ESC}[H${ESC}[2J`;

interface Watch {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code once the process ends. */
  exited: Promise<number | null>;
}

function watch(cmd: string, args: string[], env: NodeJS.ProcessEnv): Watch {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe('hub status --watch against a real hub', () => {
  let work: string;
  let repo: GitRepo;
  let hub: HubProcess;
  let env: NodeJS.ProcessEnv;
  const running: Watch[] = [];

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'stems-watch-'));
    repo = await makeGitRepo({
      'cluster.yaml': 'apiVersion: stems/v1\ncluster: lab\nnodes:\n  alpha: {}\ngroups:\n  all: { roles: [base] }\n',
      'roles/base/role.yaml': 'resources:\n  - file: /etc/motd\n    content: "hello\\n"\n',
    });
    hub = await startHubProcess(work, repo.dir);
    // one node knocks (enroll without a join token): a pending row in every frame
    const key = (await runOk(HUB_BIN, ['key'], hub.env)).trim();
    await runOk(AGENT_BIN, ['enroll', '--hub', hub.url, '--hub-key', key, '--name', 'alpha'], {
      STEMS_AGENT_CONFIG: join(work, 'alpha/agent.yaml'),
      STEMS_AGENT_STATE: join(work, 'alpha/state'),
      STEMS_AGENT_ROOT: join(work, 'alpha/root'),
    });
    // the CLI reaches the hub over HTTP, as from another machine: no data dir, no agent config
    env = {
      STEMS_HUB_URL: hub.url,
      STEMS_TOKEN: hub.token,
      STEMS_HUB_DATA: join(work, 'none'),
      STEMS_AGENT_CONFIG: join(work, 'none.yaml'),
    };
  }, 60_000);

  afterAll(async () => {
    for (const w of running) w.child.kill('SIGKILL');
    await hub?.daemon.stop();
    await repo?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('on a terminal, every frame clears the screen and redraws from the top; Ctrl-C ends it with 0', async () => {
    // script(1) runs the CLI on a real pseudo-terminal; the ^C byte written to
    // the terminal is turned into SIGINT by its line discipline, as a keyboard's is.
    // `exec`: the CLI replaces script's shell, so the SIGINT reaches only the CLI
    // (dash, unlike bash, stays as the parent and dies of the SIGINT itself: 130).
    // SHELL is pinned so the test runs the same way whatever the caller's shell is.
    const w = watch(
      'script',
      ['--quiet', '--flush', '--return', '--command', `exec '${HUB_BIN}' status --watch --interval 200ms`, '/dev/null'],
      {
        ...env,
        TERM: 'xterm',
        SHELL: '/bin/sh',
      },
    );
    running.push(w);
    await eventually(async () => (w.output().split(CLEAR).length > 3 ? true : undefined), 'three frames on the terminal', 20_000);
    w.child.stdin?.write('\u0003');
    expect(await w.exited).toBe(0);

    const frames = w.output().split(CLEAR);
    // nothing before the first clear: the first frame also starts at the top of a clean screen
    expect(frames[0]?.replace(/\^C|\r|\n/g, '')).toBe('');
    const whole = frames.slice(1, -1);
    expect(whole.length).toBeGreaterThanOrEqual(2);
    for (const frame of whole) {
      // a frame: the stamp line, then the status view (header and the node row), nothing else
      expect(frame).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}\(every 200 ms, Ctrl-C stops\)\r\n/);
      expect(frame).toMatch(/NODE/);
      // a terminal gets colour (NO_COLOR unset): the state is painted
      expect(frame).toContain(`alpha  ${ESC}[33mpending${ESC}[39m`);
      expect(frame.match(/NODE/g)).toHaveLength(1);
    }
  });

  it('piped with --json, one JSON status document per line and refresh; an unreachable hub is a JSON error line', async () => {
    const w = watch(HUB_BIN, ['status', '--watch', '--json', '--interval', '200ms'], env);
    running.push(w);
    const lines = () =>
      w
        .output()
        .split('\n')
        .filter((l) => l !== '');
    await eventually(async () => (lines().length >= 3 ? true : undefined), 'three JSON lines', 20_000);
    expect(w.output()).not.toContain(CLEAR); // not a terminal: no escape sequences
    for (const line of lines().slice(0, 3)) {
      const doc = JSON.parse(line) as { cluster: string; branch: string; nodes: { name: string; state: string }[] };
      expect(doc).toMatchObject({ cluster: 'lab', branch: 'main' });
      expect(doc.nodes).toMatchObject([{ name: 'alpha', state: 'pending' }]);
    }

    // the hub goes away: the watch goes on, one {"error": …} document per refresh
    await hub.daemon.stop();
    await eventually(async () => (lines().some((l) => l.startsWith('{"error"')) ? true : undefined), 'an error line', 20_000);
    const error = JSON.parse(lines().find((l) => l.startsWith('{"error"')) ?? '') as { error: { code: string } };
    expect(error.error.code).toMatch(/^STEMS_/);
    w.child.kill('SIGINT');
    expect(await w.exited).toBe(0);
    for (const line of lines()) expect(() => JSON.parse(line)).not.toThrow();
  });
});
