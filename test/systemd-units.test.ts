import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeNeeding } from './helpers/capabilities.js';
import { eventually } from './helpers/processes.js';
import { bootNodes, type TestbedNode, teardown } from './helpers/testbed/index.js';

/**
 * The shipped units pass `systemd-analyze verify` without a single warning.
 * verify checks that ExecStart= binaries exist, so it runs against a temp
 * root (`--root=`) holding the units, stand-in executables at the install
 * paths, and a copy of the host's system units (sysinit.target & co.; a
 * symlink to them is not enough, verify then fails to resolve their links).
 */
const UNITS_DIR = fileURLToPath(new URL('../systemd/', import.meta.url));
const UNITS = ['stems-hub.service', 'stems-agent.service'];
const EXECUTABLES = ['/usr/local/bin/hub', '/usr/local/bin/stems-agent'];
const HOST_UNITS = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(join(d, 'sysinit.target')));

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0 && HOST_UNITS !== undefined;
// On a contributor's machine without systemd the check is skipped, saying why; CI always runs it.
const skip = !hasAnalyze && !process.env.CI;

function unit(name: string): string {
  return readFileSync(join(UNITS_DIR, name), 'utf8');
}

/** The value of `Key=` (last assignment wins, as in systemd), or undefined. */
function setting(text: string, key: string): string | undefined {
  const lines = text.split('\n').filter((l) => l.startsWith(`${key}=`));
  return lines.at(-1)?.slice(key.length + 1);
}

/** A systemd time span as used in the units ("2s", "60s", "5min"), in seconds. */
function seconds(span: string | undefined): number {
  const m = span?.match(/^(\d+)(s|min)$/);
  if (!m) throw new Error(`unexpected time span ${span}`);
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
}

/** The lines of one [Section] of a unit. */
function section(text: string, name: string): string {
  return text.split(/^(?=\[)/m).find((s) => s.startsWith(`[${name}]`)) ?? '';
}

describe.skipIf(skip)(skip ? 'systemd units [skipped: needs systemd-analyze]' : 'systemd units', () => {
  let root = '';

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'stems-units-'));
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    mkdirSync(join(root, 'usr/lib/systemd'), { recursive: true });
    cpSync(HOST_UNITS ?? '', join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    for (const exe of EXECUTABLES) {
      mkdirSync(join(root, exe, '..'), { recursive: true });
      writeFileSync(join(root, exe), '#!/bin/sh\n');
      chmodSync(join(root, exe), 0o755);
    }
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** Installs the given unit texts into the temp root and returns verify's complaints about them. */
  function verify(texts: Record<string, string>): { code: number | null; complaints: string[] } {
    for (const [name, text] of Object.entries(texts)) writeFileSync(join(root, 'etc/systemd/system', name), text);
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, ...Object.keys(texts)], { encoding: 'utf8' });
    const complaints = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes('stems-'));
    return { code: r.status, complaints };
  }

  it('systemd-analyze verify reports nothing about either unit', () => {
    const result = verify(Object.fromEntries(UNITS.map((u) => [u, unit(u)])));
    expect(result.complaints).toEqual([]);
    expect(result.code).toBe(0);
  });

  it('the verify check does catch a bad unit (unknown key, missing binary)', () => {
    const bad = `${unit('stems-hub.service')}\n[Service]\nRestartSteps=5\n`.replace(
      '/usr/local/bin/hub serve',
      '/usr/local/bin/nope serve',
    );
    const result = verify({ 'stems-hub.service': bad });
    expect(result.complaints.join('\n')).toMatch(/Unknown key 'RestartSteps'/);
    expect(result.complaints.join('\n')).toMatch(/\/usr\/local\/bin\/nope/);
    verify({ 'stems-hub.service': unit('stems-hub.service') });
  });

  it('the hub runs as its own user, sandboxed, with its state in /var/lib/stems-hub', () => {
    const hub = unit('stems-hub.service');
    expect(setting(hub, 'User')).toBe('stems-hub');
    expect(setting(hub, 'ExecStart')).toBe('/usr/local/bin/hub serve');
    expect(hub).toMatch(/^Environment=STEMS_HUB_DATA=\/var\/lib\/stems-hub$/m);
    expect(setting(hub, 'ProtectSystem')).toBe('strict');
    expect(setting(hub, 'CapabilityBoundingSet')).toBe('');
    expect(setting(hub, 'StateDirectory')).toBe('stems-hub');
    expect(setting(hub, 'ConfigurationDirectory')).toBeUndefined();
    // V8's JIT needs W+X memory: the comment must say so, the value must stay "no".
    expect(setting(hub, 'MemoryDenyWriteExecute')).toBe('no');
    expect(hub).toMatch(/JIT/);
    // Exposure as scored by systemd itself (0 = locked down, 10 = unsandboxed).
    const security = execFileSync('systemd-analyze', ['security', '--offline=yes', `--root=${root}`, 'stems-hub.service'], {
      encoding: 'utf8',
    });
    const score = Number.parseFloat(security.match(/Overall exposure level for stems-hub\.service: ([\d.]+)/)?.[1] ?? 'NaN');
    expect(score).toBeLessThanOrEqual(2);
  });

  it('the agent runs as root without ProtectSystem (it writes /etc) and keeps its state private', () => {
    const agent = unit('stems-agent.service');
    expect(setting(agent, 'User')).toBeUndefined();
    expect(setting(agent, 'ProtectSystem')).toBeUndefined();
    expect(setting(agent, 'ExecStart')).toBe('/usr/local/bin/stems-agent run');
    expect(setting(agent, 'StateDirectoryMode')).toBe('0700');
    expect(agent).toMatch(/^Environment=STEMS_AGENT_CONFIG=\/etc\/stems\/agent\.yaml$/m);
    expect(agent).toMatch(/^Environment=STEMS_AGENT_STATE=\/var\/lib\/stems-agent$/m);
    expect(setting(agent, 'NoNewPrivileges')).toBe('yes');
  });

  it.each(UNITS)('%s restarts on failure with a start limit, only with settings systemd 252 knows', (name) => {
    const text = unit(name);
    expect(setting(text, 'Type')).toBe('simple');
    expect(setting(text, 'Restart')).toBe('on-failure');
    expect(setting(text, 'RestartSec')).toBe('2s');
    const burst = Number(setting(text, 'StartLimitBurst'));
    expect(burst).toBeGreaterThan(1);
    // The backoff 252 allows (docs/operations.md, "Restarts and backoff"): a fixed
    // delay, and a start limit a crash loop really reaches (burst starts, RestartSec
    // apart, fit well inside the window) so the unit ends failed instead of looping.
    const windowSec = seconds(setting(text, 'StartLimitIntervalSec'));
    expect(burst * seconds(setting(text, 'RestartSec'))).toBeLessThan(windowSec / 2);
    // the limit lives in [Unit] (systemd 252 ignores it in [Service], with a warning)
    expect(section(text, 'Unit')).toMatch(/^StartLimitIntervalSec=/m);
    expect(section(text, 'Unit')).toMatch(/^StartLimitBurst=/m);
    // RestartSteps= and RestartMaxDelaySec= arrived in systemd 254; Debian 12 has 252.
    expect(text).not.toMatch(/^Restart(Steps|MaxDelaySec)=/m);
    expect(text).toMatch(/^# Backoff within systemd 252/m);
    expect(setting(text, 'Wants')).toBe('network-online.target');
    expect(setting(text, 'After')).toBe('network-online.target');
    expect(setting(text, 'WantedBy')).toBe('multi-user.target');
    expect(setting(text, 'Documentation')).toMatch(/^(file|https?|man):/);
  });
});

/**
 * The same unit files, started by systemd 252 inside a real Debian node: the
 * sandbox must let Node.js run and write its state, and must stop the hub
 * from writing anywhere else. Stand-in executables at the install paths
 * report what the process sees (the real hub and agent have their own tests).
 */
const PROBE = `const fs = require('node:fs');
const tryWrite = (p) => { try { fs.writeFileSync(p, 'x'); return 'ok'; } catch (e) { return e.code; } };
const state = process.env.STEMS_HUB_DATA ?? process.env.STEMS_AGENT_STATE;
const report = {
  uid: process.getuid(),
  env: { hub: process.env.STEMS_HUB_DATA, config: process.env.STEMS_AGENT_CONFIG, state: process.env.STEMS_AGENT_STATE },
  state: tryWrite(state + '/probe'),
  stateMode: (fs.statSync(state).mode & 0o777).toString(8),
  fileMode: (fs.statSync(state + '/probe').mode & 0o777).toString(8),
  etc: tryWrite('/etc/stems/probe-' + process.argv[2]),
};
require('node:http').createServer((q, s) => s.end(JSON.stringify(report))).listen(Number(process.argv[3]), '127.0.0.1');
`;

describeNeeding(['root', 'netns', 'nspawn'], 'systemd units inside a Debian 12 node', () => {
  let node: TestbedNode | undefined;

  beforeAll(async () => {
    const bed = await bootNodes({ count: 1, prefix: 'units-' });
    node = bed.nodes[0];
    if (!node) throw new Error('no node');
    const root = node.rootDir;
    mkdirSync(join(root, 'opt/stems'), { recursive: true });
    writeFileSync(join(root, 'opt/stems/probe.js'), PROBE);
    const stand = (port: number, name: string) => `#!/bin/sh\nexec /usr/local/bin/node /opt/stems/probe.js ${name} ${port}\n`;
    writeFileSync(join(root, 'usr/local/bin/hub'), stand(7400, 'hub'), { mode: 0o755 });
    writeFileSync(join(root, 'usr/local/bin/stems-agent'), stand(7401, 'agent'), { mode: 0o755 });
    for (const u of UNITS) writeFileSync(join(root, 'etc/systemd/system', u), unit(u));
    await inNode(['useradd', '--system', '--home-dir', '/var/lib/stems-hub', '--shell', '/usr/sbin/nologin', 'stems-hub']);
    await inNode(['systemctl', 'daemon-reload']);
    await inNode(['systemctl', 'enable', '--now', ...UNITS]);
  }, 900_000);
  afterAll(() => teardown(), 120_000);

  async function inNode(cmd: string[]): Promise<string> {
    const r = await node?.exec(cmd);
    if (r?.code !== 0) throw new Error(`${cmd.join(' ')} exited ${r?.code}: ${r?.stderr}`);
    return r.stdout.trim();
  }

  async function report(port: number): Promise<Record<string, unknown>> {
    const body = await eventually(async () => {
      const r = await node?.exec(['curl', '-sS', '--max-time', '2', `http://127.0.0.1:${port}/`]);
      return r?.code === 0 ? r.stdout : undefined;
    }, `probe on port ${port}`);
    return JSON.parse(body);
  }

  it('the hub starts as stems-hub, writes only its 0700 state directory, files 0600', async () => {
    expect(await inNode(['systemctl', 'is-active', 'stems-hub.service'])).toBe('active');
    const uid = Number(await inNode(['id', '-u', 'stems-hub']));
    expect(await report(7400)).toEqual({
      uid,
      env: { hub: '/var/lib/stems-hub' },
      state: 'ok',
      stateMode: '700',
      fileMode: '600',
      // ProtectSystem=strict: /etc is read-only for the hub.
      etc: 'EROFS',
    });
    // The agent's config directory stays root's (systemd 252 would give a missing
    // ConfigurationDirectory= to the hub's user if the hub unit declared one).
    expect(await inNode(['stat', '-c', '%U %a', '/etc/stems'])).toBe('root 755');
  });

  it('the agent starts as root with its config and state paths, and may write /etc', async () => {
    expect(await inNode(['systemctl', 'is-active', 'stems-agent.service'])).toBe('active');
    expect(await report(7401)).toEqual({
      uid: 0,
      env: { config: '/etc/stems/agent.yaml', state: '/var/lib/stems-agent' },
      state: 'ok',
      stateMode: '700',
      fileMode: '644',
      etc: 'ok',
    });
  });

  it('a crashed agent is restarted by systemd after RestartSec', async () => {
    const before = await inNode(['systemctl', 'show', '-P', 'MainPID', 'stems-agent.service']);
    await inNode(['systemctl', 'kill', '--signal=SIGKILL', 'stems-agent.service']);
    const after = await eventually(
      async () => {
        const pid = await inNode(['systemctl', 'show', '-P', 'MainPID', 'stems-agent.service']);
        return pid !== '0' && pid !== before ? pid : undefined;
      },
      'agent restart',
      10_000,
    );
    expect(after).not.toBe(before);
    expect(await inNode(['systemctl', 'show', '-P', 'NRestarts', 'stems-agent.service'])).toBe('1');
  });

  it('a hub that crashes at every start ends failed on the start limit, and reset-failed re-arms it', async () => {
    const exe = join(node?.rootDir ?? '', 'usr/local/bin/hub');
    const probe = readFileSync(exe, 'utf8');
    writeFileSync(exe, '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    try {
      await inNode(['systemctl', 'reset-failed', 'stems-hub.service']); // earlier starts do not count
      const since = await inNode(['date', '+%Y-%m-%d %H:%M:%S']);
      await inNode(['systemctl', 'restart', 'stems-hub.service']);
      const show = async (p: string) => inNode(['systemctl', 'show', '-P', p, 'stems-hub.service']);
      // a few starts 2 s apart, then systemd stops trying (systemd 252 keeps Result=exit-code
      // for a refused automatic restart; the journal names the start limit)
      await eventually(
        async () => {
          const log = await inNode(['journalctl', '-u', 'stems-hub.service', '--since', since, '--no-pager']);
          return log.includes('Start request repeated too quickly') ? true : undefined;
        },
        'the start limit to end the crash loop',
        40_000,
        500,
      );
      expect(await show('ActiveState')).toBe('failed');
      const restarts = await show('NRestarts');
      expect(Number(restarts)).toBeGreaterThan(1);
      await new Promise((r) => setTimeout(r, 3000)); // past RestartSec: no new try
      expect(await show('ActiveState')).toBe('failed');
      expect(await show('NRestarts')).toBe(restarts);
    } finally {
      writeFileSync(exe, probe, { mode: 0o755 });
    }
    // docs/operations.md: fix the cause, then re-arm
    await inNode(['systemctl', 'reset-failed', 'stems-hub.service']);
    await inNode(['systemctl', 'start', 'stems-hub.service']);
    expect(await inNode(['systemctl', 'is-active', 'stems-hub.service'])).toBe('active');
  }, 90_000);
});
