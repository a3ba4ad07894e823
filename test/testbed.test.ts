import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeNeeding } from './helpers/capabilities.js';
import { eventually } from './helpers/processes.js';
import { bootNodes, ensureRootfs, hostLeftovers, type Testbed, type TestbedNode, teardown } from './helpers/testbed/index.js';

/**
 * Self-test of the systemd-nspawn testbed (test/helpers/testbed): real
 * Debian nodes with systemd as PID 1, their network, units across a reboot,
 * and a teardown that leaves nothing on the host. The first run builds the
 * rootfs (~1-2 min incl. apt); later runs reuse it and take seconds.
 */

const UNIT = `[Unit]
Description=testbed probe: a Node.js process kept alive by systemd

[Service]
ExecStart=/usr/local/bin/node -e "setInterval(() => {}, 1 << 30)"
Restart=on-failure

[Install]
WantedBy=multi-user.target
`;

async function ok(node: TestbedNode, cmd: string[], input?: string): Promise<string> {
  const r = await node.exec(cmd, { input });
  if (r.code !== 0) throw new Error(`${node.name}: ${cmd.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

describeNeeding(['root', 'netns', 'nspawn'], 'testbed (systemd-nspawn nodes)', () => {
  let tb: Testbed | undefined;
  let server: Server | undefined;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    const rootfs = await ensureRootfs();
    if (rootfs.builtMs !== undefined) timings.rootfsBuildMs = rootfs.builtMs;
    if (rootfs.hostToolsMs !== undefined) timings.hostToolsMs = rootfs.hostToolsMs;
    tb = await bootNodes({ count: 2, prefix: 'tb-' });
    timings.boot2NodesMs = tb.bootMs;
  }, 900_000);

  afterAll(async () => {
    server?.close();
    await teardown();
    // Measured figures, kept in the test output for docs/testbed.md.
    console.info(`testbed timings: ${JSON.stringify(timings)}`);
  }, 120_000);

  const nodes = (): [TestbedNode, TestbedNode] => {
    const [a, b] = tb?.nodes ?? [];
    if (!a || !b) throw new Error('testbed did not boot');
    return [a, b];
  };

  it('boots every node to "running" with its own hostname and address', async () => {
    for (const node of nodes()) {
      expect(await ok(node, ['systemctl', 'is-system-running'])).toBe('running');
      expect(await ok(node, ['hostname'])).toBe(node.name);
      expect(await ok(node, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).toContain(`inet ${node.ip}/24`);
      // The node is its own machine: PID 1 inside is systemd.
      expect(await ok(node, ['cat', '/proc/1/comm'])).toBe('systemd');
    }
  });

  it('enables and starts a unit written to /etc/systemd/system', async () => {
    const [a] = nodes();
    await ok(a, ['sh', '-c', 'cat > /etc/systemd/system/tb-probe.service'], UNIT);
    await ok(a, ['systemctl', 'daemon-reload']);
    await ok(a, ['systemctl', 'enable', '--now', 'tb-probe.service']);
    expect(await ok(a, ['systemctl', 'is-enabled', 'tb-probe.service'])).toBe('enabled');
    expect(await ok(a, ['systemctl', 'is-active', 'tb-probe.service'])).toBe('active');
    // The host's node binary (bound read-only) runs inside the node.
    expect(await ok(a, ['node', '-p', 'process.version'])).toBe(process.version);
  });

  it('a node reaches a server on the host bridge address over TCP', async () => {
    const [a] = nodes();
    const host = tb?.hostIp ?? '';
    const srv = createServer((req, res) => res.end(`hello ${req.socket.remoteAddress}`));
    server = srv;
    await new Promise<void>((resolve) => srv.listen(0, host, resolve));
    const { port } = srv.address() as AddressInfo;
    expect(await ok(a, ['curl', '-sS', '--max-time', '5', `http://${host}:${port}/`])).toBe(`hello ${a.ip}`);
  });

  it('nodes reach each other over TCP, and nothing outside the bridge', async () => {
    const [a, b] = nodes();
    const js = "require('http').createServer((q, s) => s.end(require('os').hostname())).listen(7001)";
    await ok(b, ['systemd-run', '--unit=tb-echo', '/usr/local/bin/node', '-e', js]);
    const reply = await eventually(async () => {
      const r = await a.exec(['curl', '-sS', '--max-time', '2', `http://${b.ip}:7001/`]);
      return r.code === 0 ? r.stdout : undefined;
    }, `${a.name} -> ${b.name}:7001`);
    expect(reply).toBe(b.name);
    // No default route: anything off the bridge subnet is unreachable (the testbed never routes out).
    const out = await a.exec(['ip', 'route', 'get', '192.0.2.1']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/unreachable/i);
  });

  it('a reboot brings the node back with the unit still enabled and active', async () => {
    const [a] = nodes();
    const bootId = await ok(a, ['cat', '/proc/sys/kernel/random/boot_id']);
    const leader = a.leaderPid();
    timings.rebootMs = await a.reboot();
    expect(a.leaderPid()).not.toBe(leader);
    expect(await ok(a, ['systemctl', 'is-system-running'])).toBe('running');
    expect(await ok(a, ['systemctl', 'is-enabled', 'tb-probe.service'])).toBe('enabled');
    expect(await ok(a, ['systemctl', 'is-active', 'tb-probe.service'])).toBe('active');
    // nspawn gives every container start a fresh boot id.
    expect(await ok(a, ['cat', '/proc/sys/kernel/random/boot_id'])).not.toBe(bootId);
    expect(await ok(a, ['test', '-e', '/etc/systemd/system/tb-probe.service'])).toBe('');
  });

  it('teardown leaves no netns, veth, bridge, mount or cgroup behind', async () => {
    const bed = tb;
    if (!bed) throw new Error('testbed did not boot');
    const before = await hostLeftovers(bed.runId);
    expect(before.some((l) => l.startsWith('netns'))).toBe(true);
    expect(before.some((l) => l.includes(bed.bridge))).toBe(true);
    const t0 = Date.now();
    await bed.teardown();
    timings.teardownMs = Date.now() - t0;
    expect(await hostLeftovers(bed.runId)).toEqual([]);
    await bed.teardown();
  });
});
