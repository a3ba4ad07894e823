import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeKeyFile, generateKeyPair } from '@stems/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeKeyPath } from '../identity/keys.js';
import { Outbox } from '../state/outbox.js';
import { AgentState } from '../state/store.js';
import { type AgentFixture, agentFixture, filesOnlyPayload, MOTD_RENDERED, signed, silent } from './_test-fixtures.js';
import { Daemon } from './daemon.js';

let fx: AgentFixture;
beforeEach(async () => {
  // port 1 on loopback refuses at once: the hub is "away" for the whole test
  fx = await agentFixture({ hubUrl: 'http://127.0.0.1:1', intervals: { backoffMinMs: 50, backoffMaxMs: 200 } });
  await writeKeyFile(nodeKeyPath(fx.stateDir), generateKeyPair());
});
afterEach(async () => {
  await fx.cleanup();
});

describe('Daemon without its hub', () => {
  it('refuses to start when the node was never enrolled', async () => {
    const bare = await agentFixture();
    await expect(Daemon.start({ config: bare.config, log: silent, agentVersion: 't' })).rejects.toMatchObject({ code: 'STEMS_AGENT_NOT_ENROLLED' });
    await bare.cleanup();
  });

  it('enforces the last good bundle at start and queues the report for later', async () => {
    // a bundle accepted earlier, valid "now" (real clock) so nothing depends on expiry handling
    const payload = filesOnlyPayload({ expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
    const state = new AgentState(fx.stateDir);
    await state.acceptSerial(5);
    await state.writeBundle(signed(payload, fx.hub));
    const daemon = await Daemon.start({ config: fx.config, log: silent, agentVersion: 't' });
    await daemon.idle();
    expect(await readFile(join(fx.root, 'etc/motd'), 'utf8')).toBe(MOTD_RENDERED);
    expect(daemon.connected).toBe(false);
    const queued = await new Outbox(fx.stateDir).list();
    expect(queued).toEqual([expect.objectContaining({ type: 'report', payload: expect.objectContaining({ serial: 5, status: 'changed' }) })]);
    await daemon.stop();
  });

  it('does not enforce a stored bundle that fails verification', async () => {
    const state = new AgentState(fx.stateDir);
    await state.acceptSerial(5);
    const foreign = generateKeyPair();
    await writeFile(state.bundlePath, signed(filesOnlyPayload(), foreign));
    const daemon = await Daemon.start({ config: fx.config, log: silent, agentVersion: 't' });
    await daemon.idle();
    await daemon.stop();
    await expect(readFile(join(fx.root, 'etc/motd'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await new Outbox(fx.stateDir).list()).toEqual([]);
  });
});
