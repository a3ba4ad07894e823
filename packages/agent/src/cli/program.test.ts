import { EventEmitter } from 'node:events';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodePublicKey, Facts, sha256Hex } from '@stems/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AgentFixture, agentFixture, filesOnlyPayload, MOTD_RENDERED, signed } from '../daemon/_test-fixtures.js';
import { nodeKeyPath } from '../identity/keys.js';
import { AgentState } from '../state/store.js';
import { runCommand } from './commands/run.js';
import { makeLogger, resolveContext } from './context.js';
import { runCli } from './program.js';

let fx: AgentFixture;
beforeEach(async () => {
  fx = await agentFixture();
});
afterEach(async () => {
  await fx.cleanup();
});

async function cli(args: string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: { STEMS_LOG_LEVEL: 'silent', ...env },
    isTTY: false,
  });
  return { code, stdout, stderr };
}

/** agent.yaml for the fixture, written the way enroll writes it. */
async function enrolled(): Promise<string> {
  const configPath = join(fx.dir, 'agent.yaml');
  const { code } = await cli([
    'enroll',
    '--offline',
    '--hub',
    'http://127.0.0.1:1',
    '--hub-key',
    encodePublicKey(fx.hub.publicKey),
    '--name',
    'projector',
    '--config',
    configPath,
    '--state',
    fx.stateDir,
    '--root',
    fx.root,
  ]);
  expect(code).toBe(0);
  return configPath;
}

async function storeBundle(): Promise<void> {
  const state = new AgentState(fx.stateDir);
  await state.acceptSerial(5);
  await state.setCluster('colab');
  await state.writeBundle(signed(filesOnlyPayload({ expiresAt: new Date(Date.now() + 86_400_000).toISOString() }), fx.hub));
}

describe('stems-agent usage', () => {
  it('--help lists the commands (exit 0); no command is a usage error (exit 2)', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const c of ['enroll', 'run', 'plan', 'apply --once', 'facts']) expect(help.stdout).toContain(c);
    expect((await cli([])).code).toBe(2);
    expect((await cli(['plan', '--help'])).stdout).toContain('stems-agent plan [--json]');
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
    expect((await cli(['--version'])).stdout.trim()).toBe(pkg.version);
  });

  it('unknown commands, unknown flags and apply without --once exit 2 with STEMS_CLI_USAGE', async () => {
    for (const args of [['explode'], ['plan', '--bogus'], ['apply'], ['enroll', '--hub', 'http://x']]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('STEMS_CLI_USAGE');
      expect(r.stderr).not.toContain('\u001b['); // no colour off a TTY
    }
  });

  it('a command that needs enrollment says so (exit 1, with a hint)', async () => {
    const r = await cli(['plan'], { STEMS_AGENT_CONFIG: join(fx.dir, 'missing.yaml') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/STEMS_AGENT_NOT_ENROLLED[\s\S]*hint: Run `stems-agent enroll/);
  });
});

describe('stems-agent enroll / plan / apply --once', () => {
  it('enroll --json reports the key and next step', async () => {
    const r = await cli([
      'enroll',
      '--offline',
      '--json',
      '--hub',
      'http://127.0.0.1:7400',
      '--hub-key',
      encodePublicKey(fx.hub.publicKey),
      '--name',
      'n9',
      '--config',
      join(fx.dir, 'a.yaml'),
      '--state',
      fx.stateDir,
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      node: 'n9',
      keyCreated: true,
      hub: { status: 'skipped' },
      next: expect.stringContaining('hub nodes accept n9'),
    });
    expect((await stat(nodeKeyPath(fx.stateDir))).mode & 0o777).toBe(0o600);
  });

  it('plan without an accepted bundle fails with STEMS_AGENT_NO_BUNDLE', async () => {
    const config = await enrolled();
    const r = await cli(['plan', '--json', '--config', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('STEMS_AGENT_NO_BUNDLE');
  });

  it('plan shows the diff without touching the disk; apply --once converges; plan is then empty', async () => {
    const config = await enrolled();
    await storeBundle();
    const env = { STEMS_AGENT_CONFIG: config };
    const plan = await cli(['plan', '--json'], env);
    expect(plan.code).toBe(0);
    const parsed = JSON.parse(plan.stdout);
    expect(parsed.serial).toBe(5);
    expect(parsed.changes.map((c: { id: string }) => c.id)).toEqual(['directory:/etc/app', 'file:/etc/motd']);
    expect(parsed.changes[1].diff).toContain(`+${MOTD_RENDERED.trim()}`);
    await expect(stat(join(fx.root, 'etc'))).rejects.toMatchObject({ code: 'ENOENT' });

    const human = await cli(['plan'], env);
    expect(human.stdout).toContain('file:/etc/motd');
    expect(human.stdout).toContain(`+${MOTD_RENDERED.trim()}`);

    const apply = await cli(['apply', '--once', '--json'], env);
    expect(apply.code).toBe(0);
    expect(JSON.parse(apply.stdout)).toMatchObject({ serial: 5, status: 'changed' });
    expect(await readFile(join(fx.root, 'etc/motd'), 'utf8')).toBe(MOTD_RENDERED);

    expect(JSON.parse((await cli(['plan', '--json'], env)).stdout)).toEqual({ serial: 5, changes: [] });
    expect((await cli(['plan'], env)).stdout).toMatch(/converged/);
  });

  it('apply --once keeps the digests of what the bundle renders to (0600), and still repairs a hand edit', async () => {
    const config = await enrolled();
    await storeBundle();
    const env = { STEMS_AGENT_CONFIG: config };
    expect((await cli(['apply', '--once'], env)).code).toBe(0);
    const path = join(fx.stateDir, 'rendered.json');
    const record = JSON.parse(await readFile(path, 'utf8'));
    expect(record.files['file:/etc/motd']).toBe(sha256Hex(Buffer.from(MOTD_RENDERED)));
    expect(record.key).toMatch(/^\S+ [0-9a-f]{64} \S+$/); // agent build, payload digest, facts hash
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    // The next run compares the bytes on disk with that digest: a hand edit is still found and repaired.
    await writeFile(join(fx.root, 'etc/motd'), 'edited by hand\n');
    const repair = JSON.parse((await cli(['apply', '--once', '--json'], env)).stdout);
    expect(repair.resources.find((r: { id: string }) => r.id === 'file:/etc/motd')).toMatchObject({
      outcome: 'changed',
      changes: ['content'],
    });
    expect(await readFile(join(fx.root, 'etc/motd'), 'utf8')).toBe(MOTD_RENDERED);
    expect(JSON.parse((await cli(['apply', '--once', '--json'], env)).stdout)).toMatchObject({ status: 'converged' });
  });

  it('--root and STEMS_AGENT_ROOT move the managed tree (flag beats env)', async () => {
    const config = await enrolled();
    await storeBundle();
    const other = join(fx.dir, 'other-root');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(other);
    const r = await cli(['apply', '--once', '--root', other], { STEMS_AGENT_CONFIG: config, STEMS_AGENT_ROOT: fx.root });
    expect(r.code).toBe(0);
    expect(await readFile(join(other, 'etc/motd'), 'utf8')).toBe(MOTD_RENDERED);
    await expect(stat(join(fx.root, 'etc'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('stems-agent facts', () => {
  it('--json prints facts that match the schema, using --state for the cache', async () => {
    const r = await cli(['facts', '--json', '--state', fx.stateDir, '--config', join(fx.dir, 'none.yaml')]);
    expect(r.code).toBe(0);
    expect(Facts.safeParse(JSON.parse(r.stdout)).success).toBe(true);
    await stat(join(fx.stateDir, 'facts.json'));
    const human = await cli(['facts', '--state', fx.stateDir, '--config', join(fx.dir, 'none.yaml')]);
    expect(human.stdout).toMatch(/hostname\s+\S+/);
    expect(human.stdout).toContain('(cached)');
  });
});

describe('logging', () => {
  it('redacts tokens and secret keys', () => {
    const lines: string[] = [];
    const log = makeLogger({ level: 'info', toStderr: false, destination: { write: (l: string) => lines.push(l) } });
    log.info({ joinToken: 'jt_secret', hello: { joinToken: 'jt_nested', node: 'n1' }, key: { secretKey: 'sk' } }, 'hello');
    expect(lines.join('')).not.toMatch(/jt_secret|jt_nested|"sk"/);
    expect(lines.join('')).toContain('"node":"n1"');
  });
});

describe('stems-agent run', () => {
  it('runs until SIGTERM and then stops cleanly', async () => {
    const config = await enrolled();
    const ctx = resolveContext({ config }, { STEMS_LOG_LEVEL: 'silent' }, true);
    const signals = new EventEmitter();
    const running = runCommand(ctx, signals);
    // the daemon is up once it tried the (refusing) hub; stopping must still be clean
    await new Promise((r) => setTimeout(r, 300));
    signals.emit('SIGTERM');
    expect(await running).toEqual({ stoppedBy: 'SIGTERM' });
  });
});
