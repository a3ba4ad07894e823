import { fingerprintOf, generateKeyPair } from '@stems/shared';
import { describe, expect, it } from 'vitest';
import { testHub } from './_test-hub.js';
import { runHub } from './cli/_test-cli.js';
import { TestAgent } from './ws/_test-agent.js';

/** A listening test hub and a `hub` CLI that talks to it over HTTP with an operator token named "ops". */
async function hubWithCli() {
  const hub = await testHub();
  const url = await hub.app.listen({ port: 0, host: '127.0.0.1' });
  const token = hub.token('operator', 'ops');
  // No data dir and no agent config: the CLI can only reach the hub through --hub/--token.
  const env = { STEMS_HUB_DATA: `${hub.dir}/none`, STEMS_AGENT_CONFIG: `${hub.dir}/none.yaml` };
  const cli = (...argv: string[]) => runHub([...argv, '--hub', url, '--token', token], env);
  return { hub, url, cli };
}

/** An agent that connected and waits as pending. */
async function pendingAgent(url: string, node: string, key = generateKeyPair()) {
  const agent = await TestAgent.connect(url, node, key);
  await agent.hello();
  await agent.next('pending');
  return agent;
}

describe('hub nodes', () => {
  it('--json lists a connected node with its state, the fingerprint of its key and when it was last seen', async () => {
    const { url, cli } = await hubWithCli();
    const key = generateKeyPair();
    const before = Date.now();
    const agent = await pendingAgent(url, 'n1', key);
    const listed = await cli('nodes', '--json');
    expect(listed.code, listed.err).toBe(0);
    const nodes = JSON.parse(listed.out);
    expect(nodes).toEqual([{ name: 'n1', state: 'pending', fingerprint: fingerprintOf(key.publicKey), lastSeen: expect.any(String) }]);
    expect(Date.parse(nodes[0].lastSeen)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(nodes[0].lastSeen)).toBeLessThanOrEqual(Date.now());
    // The table shows the same fingerprint the agent was told (and prints on the node).
    const pending = agent.received.find((m) => m.type === 'pending');
    expect(pending?.payload).toEqual({ fingerprint: fingerprintOf(key.publicKey) });
    expect((await cli('nodes')).out).toMatch(
      new RegExp(`^n1\\s+pending\\s+${fingerprintOf(key.publicKey).replace(/[+/]/g, '\\$&')}\\s`, 'm'),
    );

    expect((await cli('nodes', 'accept', 'n1')).code).toBe(0);
    await agent.next('welcome');
    expect(JSON.parse((await cli('nodes', '--json')).out)).toEqual([expect.objectContaining({ name: 'n1', state: 'accepted' })]);
    agent.close();
  });
});

describe('hub nodes revoke / reject', () => {
  it('revoking a connected, accepted node closes it with STEMS_NODE_REJECTED, audited; its key cannot come back', async () => {
    const { hub, url, cli } = await hubWithCli();
    const key = generateKeyPair();
    const agent = await pendingAgent(url, 'n1', key);
    expect((await cli('nodes', 'accept', 'n1')).code).toBe(0);
    await agent.next('welcome');

    const revoked = await cli('nodes', 'revoke', 'n1', '--json');
    expect(revoked.code, revoked.err).toBe(0);
    expect(JSON.parse(revoked.out)).toMatchObject({ name: 'n1', state: 'revoked', fingerprint: fingerprintOf(key.publicKey) });
    const error = await agent.next('error');
    expect(error.payload.code).toBe('STEMS_NODE_REJECTED');
    await expect.poll(() => agent.closed?.code, { timeout: 3000 }).toBe(1008);
    expect(agent.closed?.reason).toBe('STEMS_NODE_REJECTED');

    expect(hub.app.hub.store.audit.list()[0]).toMatchObject({
      actor: 'ops',
      action: 'node.revoke',
      target: 'n1',
      details: { from: 'accepted', to: 'revoked', fingerprint: fingerprintOf(key.publicKey) },
    });

    // The same key reconnecting is refused and closed, and gets nothing else.
    const again = await TestAgent.connect(url, 'n1', key);
    await again.hello();
    expect((await again.next('error')).payload.code).toBe('STEMS_NODE_REJECTED');
    await expect.poll(() => again.closed?.code, { timeout: 3000 }).toBe(1008);
    expect(again.received.map((m) => m.type)).toEqual(['challenge', 'error']);
    expect(hub.app.hub.store.nodes.get('n1')?.state).toBe('revoked');

    // Only a new key brings the name back, and then as pending, not accepted.
    const fresh = await pendingAgent(url, 'n1');
    expect(hub.app.hub.store.nodes.get('n1')?.state).toBe('pending');
    fresh.close();
  });

  it('rejecting a pending node closes its connection, audited; a reconnect with that key is refused', async () => {
    const { hub, url, cli } = await hubWithCli();
    const key = generateKeyPair();
    const agent = await pendingAgent(url, 'n2', key);
    const rejected = await cli('nodes', 'reject', 'n2');
    expect(rejected.code, rejected.err).toBe(0);
    expect(rejected.out).toBe(`n2: rejected (${fingerprintOf(key.publicKey)})\n`);
    expect((await agent.next('error')).payload.code).toBe('STEMS_NODE_REJECTED');
    await expect.poll(() => agent.closed?.code, { timeout: 3000 }).toBe(1008);
    expect(agent.received.some((m) => m.type === 'welcome')).toBe(false);
    expect(hub.app.hub.store.audit.list()[0]).toMatchObject({
      actor: 'ops',
      action: 'node.reject',
      target: 'n2',
      details: { from: 'pending', to: 'rejected' },
    });

    const again = await TestAgent.connect(url, 'n2', key);
    await again.hello();
    expect((await again.next('error')).payload.code).toBe('STEMS_NODE_REJECTED');
    await expect.poll(() => again.closed?.code, { timeout: 3000 }).toBe(1008);
    expect(JSON.parse((await cli('nodes', '--json')).out)).toEqual([expect.objectContaining({ name: 'n2', state: 'rejected' })]);
  });

  it('an unknown node is an error that exits 1 and names the node', async () => {
    const { cli } = await hubWithCli();
    const missing = await cli('nodes', 'revoke', 'ghost', '--json');
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.err).error).toMatchObject({ code: 'STEMS_NODE_NOT_FOUND', message: expect.stringContaining('ghost') });
  });
});
