import type { Socket } from 'node:net';
import { challengeText, generateKeyPair, verifyBytes, verifyEnvelope } from '@stems/shared';
import { describe, expect, it } from 'vitest';
import { testHub } from '../_test-hub.js';
import { type NodeDesired, signBundle } from '../approval/payload.js';
import { signRequest } from '../auth/node-signature.js';
import { TestAgent } from './_test-agent.js';

async function listening(opts: Parameters<typeof testHub>[0] = {}) {
  const hub = await testHub(opts);
  const url = await hub.app.listen({ port: 0, host: '127.0.0.1' });
  return { ...hub, url };
}

/** An agent that enrolled, waited as pending and was accepted by an admin: welcomed. */
async function welcomedAgent(hub: Awaited<ReturnType<typeof listening>>, node: string) {
  const agent = await TestAgent.connect(hub.url, node);
  await agent.hello();
  await agent.next('pending');
  hub.app.hub.store.nodes.setState(node, 'accepted');
  hub.app.hub.nodeChanged(node, 'accepted');
  await agent.next('welcome');
  return agent;
}

const desired = (node: string): NodeDesired => ({
  cluster: 'colab',
  node,
  groups: [],
  revision: { commit: 'a'.repeat(40), subject: 'first', author: 'me <me@x>' },
  policy: { onFailure: 'rollback' },
  vars: {},
  resources: [],
  files: {},
});

/** Stores a signed bundle the way approval does, without a repo. */
function storeBundle(hub: Awaited<ReturnType<typeof listening>>, node: string, serial: number) {
  const store = hub.app.hub.store;
  store.transaction(() => {
    const approvalId = store.bundles.addApproval({
      kind: 'approve',
      commit: 'a'.repeat(40),
      nodes: [node],
      by: 't',
      note: '',
      at: new Date().toISOString(),
    });
    const signed = signBundle(
      desired(node),
      { serial, issuedAt: new Date(), lifetimeSec: 3600, approval: { by: 't', at: new Date().toISOString(), note: '' } },
      hub.key,
    );
    store.bundles.insert({
      node,
      serial,
      commit: 'a'.repeat(40),
      approvalId,
      envelope: signed.envelope,
      issuedAt: signed.payload.issuedAt,
      expiresAt: signed.payload.expiresAt,
    });
  });
}

describe('agent websocket', () => {
  it('a new key gets only pending, even when it asks for a bundle; accept → welcome with a hub signature', async () => {
    const hub = await listening();
    storeBundle(hub, 'n1', 1);
    const agent = await TestAgent.connect(hub.url, 'n1');
    await agent.hello();
    const pending = await agent.next('pending');
    expect(pending.payload.fingerprint).toMatch(/^SHA256:/);
    const mark = agent.received.length;
    agent.send('bundle.get', {});
    await agent.next('pending', mark);
    expect(agent.received.slice(mark).map((m) => m.type)).toEqual(['pending']);
    expect(hub.app.hub.store.nodes.get('n1')?.state).toBe('pending');

    const op = hub.token('operator');
    const res = await hub.app.inject({ method: 'POST', url: '/api/v1/nodes/n1/accept', headers: { authorization: `Bearer ${op}` } });
    expect(res.statusCode).toBe(200);
    const welcome = await agent.next('welcome');
    expect(welcome.payload).toMatchObject({ node: 'n1', cluster: 'colab', serial: 1 });
    expect(verifyBytes(Buffer.from(challengeText('hub', agent.nonce, 'n1')), welcome.payload.hubSig, hub.key.publicKey)).toBe(true);
    expect(hub.app.hub.store.audit.list()[0]).toMatchObject({ action: 'node.accept', target: 'n1' });

    const from = agent.received.length;
    agent.send('bundle.get', {});
    const bundle = await agent.next('bundle', from);
    const { payload } = verifyEnvelope(JSON.stringify(bundle.payload.envelope), {
      trustedKeys: [hub.key.publicKey],
      cluster: 'colab',
      node: 'n1',
      lastSerial: 0,
      now: new Date(),
    });
    expect(payload.serial).toBe(1);
    agent.close();
  });

  it('a join token accepts on first use and not twice', async () => {
    const hub = await listening();
    const { token } = (
      await hub.app.inject({
        method: 'POST',
        url: '/api/v1/join-tokens',
        headers: { authorization: `Bearer ${hub.token('admin')}` },
        payload: {},
      })
    ).json();
    const first = await TestAgent.connect(hub.url, 'n1');
    await first.hello({ joinToken: token });
    expect((await first.next('welcome')).payload.serial).toBe(0);
    first.send('bundle.get', {});
    await first.next('bundle.none');
    const second = await TestAgent.connect(hub.url, 'n2');
    await second.hello({ joinToken: token });
    await second.next('pending');
    expect((await second.next('error')).payload.code).toBe('STEMS_TOKEN_INVALID');
    expect(hub.app.hub.store.nodes.get('n2')?.state).toBe('pending');
    first.close();
    second.close();
  });

  it('a different key for an accepted node is refused and closed; a bad signature too', async () => {
    const hub = await listening();
    const key = generateKeyPair();
    const a = await TestAgent.connect(hub.url, 'n1', key);
    await a.hello();
    await a.next('pending');
    hub.app.hub.store.nodes.setState('n1', 'accepted');
    a.close();
    const impostor = await TestAgent.connect(hub.url, 'n1');
    await impostor.hello();
    expect((await impostor.next('error')).payload.code).toBe('STEMS_WIRE_AUTH_FAILED');
    await expect(impostor.next('welcome')).rejects.toThrow(/closed/);
    const forger = await TestAgent.connect(hub.url, 'n9');
    await forger.hello({ signAs: 'other' });
    expect((await forger.next('error')).payload.code).toBe('STEMS_WIRE_AUTH_FAILED');
    expect(hub.app.hub.store.nodes.get('n9')).toBeUndefined();
  });

  it('stores facts, reports, drift and health, acks all but health, and announces new bundles', async () => {
    const hub = await listening();
    const agent = await welcomedAgent(hub, 'n1');
    const at = new Date().toISOString();
    const facts = {
      hostname: 'n1',
      fqdn: 'n1.lan',
      os: { distro: 'debian', release: '12', codename: 'bookworm', kernel: '6', arch: 'x64' },
      cpu: { brand: 'x', cores: 2, physicalCores: 1 },
      memory: { totalBytes: 1 },
      disks: [],
      filesystems: [],
      network: [],
      primaryIp: '10.0.0.1',
      gpus: [],
      virtual: true,
      custom: {},
    };
    const acked = [
      agent.send('facts', { facts, hash: 'x' }),
      agent.send('report', { serial: 1, status: 'converged', startedAt: at, durationMs: 5, resources: [], factsHash: 'x' }),
      agent.send('drift', { serial: 1, items: [{ id: 'file:/etc/motd', status: 'drifted', aspects: ['content'], detectedAt: at }] }),
    ];
    const health = agent.send('health', {
      at,
      uptimeSec: 1,
      load1: 0.5,
      load5: 0,
      load15: 0,
      memUsedPct: 40,
      disks: [{ mount: '/', usedPct: 70 }],
      units: [],
      agentVersion: 't',
      lastApply: null,
      stale: false,
    });
    for (const id of acked) await expect.poll(() => agent.received.some((m) => m.type === 'ack' && m.payload.of === id)).toBe(true);
    const store = hub.app.hub.store;
    expect(store.nodes.facts('n1')?.primaryIp).toBe('10.0.0.1');
    expect(store.events.lastReport('n1')?.status).toBe('converged');
    expect(store.events.openDrift('n1').map((d) => d.id)).toEqual(['file:/etc/motd']);
    // Health is written behind (ws/liveness.ts) within a second, and never acked.
    await expect.poll(() => store.events.latestHealth('n1')?.load1).toBe(0.5);
    expect(agent.received.some((m) => m.type === 'ack' && m.payload.of === health)).toBe(false);
    storeBundle(hub, 'n1', 1);
    hub.app.hub.announce('n1', 1);
    expect((await agent.next('bundle.available')).payload.serial).toBe(1);
    agent.close();
  });

  it('answers a pull that names the serial the agent holds only with news', async () => {
    const hub = await listening();
    storeBundle(hub, 'n1', 1);
    const agent = await welcomedAgent(hub, 'n1');
    const bundleSerials = (from: number) =>
      agent.received.slice(from).flatMap((m) => (m.type === 'bundle' ? [JSON.parse(m.payload.envelope.payload).serial] : []));
    let mark = agent.received.length;
    agent.send('bundle.get', { have: 1 });
    // Frames are handled in order: a plain pull's answer comes after any answer to the pull before it.
    agent.send('bundle.get', {});
    await agent.next('bundle', mark);
    expect(bundleSerials(mark)).toEqual([1]);

    storeBundle(hub, 'n1', 2);
    mark = agent.received.length;
    agent.send('bundle.get', { have: 1 });
    await agent.next('bundle', mark);
    expect(bundleSerials(mark)).toEqual([2]);
    agent.close();
  });

  it('malformed frames get error frames, abuse gets closed, and the hub stays up', async () => {
    const hub = await listening();
    const agent = await TestAgent.connect(hub.url, 'n1');
    await agent.next('challenge');
    agent.sendRaw('not json');
    expect((await agent.next('error')).payload.code).toBe('STEMS_WIRE_MALFORMED');
    const mark = agent.received.length;
    agent.sendRaw(JSON.stringify({ v: 1, id: 'x', type: 'rm -rf', payload: {} }));
    expect((await agent.next('error', mark)).payload.code).toBe('STEMS_WIRE_MALFORMED');
    const mark2 = agent.received.length;
    agent.send('bundle.get', {});
    expect((await agent.next('error', mark2)).payload.code).toBe('STEMS_WIRE_UNEXPECTED');
    for (let i = 0; i < 10; i++) agent.sendRaw('{');
    await expect.poll(() => agent.closed?.code).toBe(1008);
    const res = await hub.app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(res.statusCode).toBe(200);
  });

  it('counts the bytes of a connection only until its hello is verified', async () => {
    const hub = await listening();
    const sockets: Socket[] = [];
    hub.app.server.on('connection', (s: Socket) => sockets.push(s));
    const agent = await TestAgent.connect(hub.url, 'n1');
    await agent.next('challenge');
    const [socket] = sockets;
    const before = socket?.listenerCount('data') ?? 0;
    await agent.hello();
    await agent.next('pending');
    // ws's own reader stays; the hub's pre-auth counter is gone
    expect(socket?.listenerCount('data')).toBe(before - 1);
  });

  it('closes a connection that never says hello', async () => {
    const hub = await listening({ helloTimeoutMs: 200 });
    const agent = await TestAgent.connect(hub.url, 'n1');
    await agent.next('challenge');
    await expect.poll(() => agent.closed?.code, { timeout: 3000 }).toBe(1008);
    expect(agent.received.at(-1)).toMatchObject({ type: 'error', payload: { code: 'STEMS_WIRE_UNEXPECTED' } });
  });

  it('pings only an agent that was quiet for a whole period: its own pings and frames prove it alive', async () => {
    const hub = await listening({ pingMs: 100 });
    const talking = await TestAgent.connect(hub.url, 'n1');
    const quiet = await TestAgent.connect(hub.url, 'n2');
    const keepalive = setInterval(() => talking.ws.ping(), 40);
    await new Promise((r) => setTimeout(r, 700));
    clearInterval(keepalive);
    expect(talking.pings).toBe(0);
    expect(quiet.pings).toBeGreaterThanOrEqual(2);
    // Both still connected: the quiet one answered every ping (automatic pong).
    expect([talking.closed, quiet.closed]).toEqual([null, null]);
  });

  it('terminates a connection that stops answering pings', async () => {
    const hub = await listening({ pingMs: 100 });
    // No automatic pong: the socket looks dead to the hub.
    const agent = await TestAgent.connect(hub.url, 'n1', undefined, { autoPong: false });
    await expect.poll(() => agent.closed?.code, { timeout: 3000 }).toBe(1006);
  });
});

describe('node-signed requests', () => {
  it('an accepted node can GET with its key; a tampered signature, a pending node or a write are refused', async () => {
    const hub = await listening();
    const key = generateKeyPair();
    const agent = await TestAgent.connect(hub.url, 'n1', key);
    await agent.hello();
    await agent.next('pending');
    const get = (headers: Record<string, string>, method: 'GET' | 'POST' = 'GET', url = '/api/v1/status') =>
      hub.app.inject({ method, url, headers });
    const signed = () => signRequest({ method: 'GET', path: '/api/v1/status', node: 'n1', secretKey: key.secretKey });
    expect((await get(signed())).statusCode).toBe(401); // still pending
    hub.app.hub.store.nodes.setState('n1', 'accepted');
    const ok = await get(signed());
    expect(ok.statusCode).toBe(200);
    expect(ok.json().nodes.map((n: { name: string }) => n.name)).toEqual(['n1']);
    const headers = signed();
    const tampered = {
      ...headers,
      'x-stems-signature': `${headers['x-stems-signature']?.startsWith('A') ? 'B' : 'A'}${headers['x-stems-signature']?.slice(1)}`,
    };
    expect((await get(tampered)).statusCode).toBe(401);
    const otherPath = { ...signed() };
    expect((await get(otherPath, 'GET', '/api/v1/nodes')).statusCode).toBe(401);
    const old = signRequest({
      method: 'GET',
      path: '/api/v1/status',
      node: 'n1',
      secretKey: key.secretKey,
      now: new Date(Date.now() - 10 * 60_000),
    });
    expect((await get(old)).statusCode).toBe(401);
    const write = signRequest({ method: 'POST', path: '/api/v1/sync', node: 'n1', secretKey: key.secretKey });
    expect((await get(write, 'POST', '/api/v1/sync')).statusCode).toBe(403);
    agent.close();
  });
});
