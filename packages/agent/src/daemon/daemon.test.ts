import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, sha256Hex, writeKeyFile } from '@stems/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { factsHash } from '../facts/cache.js';
import { nodeKeyPath } from '../identity/keys.js';
import { Outbox } from '../state/outbox.js';
import { AgentState } from '../state/store.js';
import { type AgentFixture, agentFixture, FACTS, filesOnlyPayload, MOTD_RENDERED, signed, silent } from './_test-fixtures.js';
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

const until = async (check: () => Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe('Daemon drift loop', () => {
  it('repairs drift on enforce resources, only reports it on report resources, and queues drift reports', async () => {
    const drifty = await agentFixture({ hubUrl: 'http://127.0.0.1:1', intervals: { driftMs: 100, backoffMinMs: 50, backoffMaxMs: 200 } });
    try {
      await writeKeyFile(nodeKeyPath(drifty.stateDir), generateKeyPair());
      const base = filesOnlyPayload({ expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
      // the directory only reports drift; the motd is enforced
      const payload = { ...base, resources: base.resources.map((r) => (r.type === 'directory' ? { ...r, drift: 'report' as const } : r)) };
      const state = new AgentState(drifty.stateDir);
      await state.acceptSerial(5);
      await state.writeBundle(signed(payload, drifty.hub));
      const daemon = await Daemon.start({ config: drifty.config, log: silent, agentVersion: 't' });
      await daemon.idle();
      const motd = join(drifty.root, 'etc/motd');
      expect(await readFile(motd, 'utf8')).toBe(MOTD_RENDERED);

      await writeFile(motd, 'vandalised\n');
      await chmod(join(drifty.root, 'etc/app'), 0o700);
      // a fresh Outbox reads the file the daemon wrote (each instance caches what it read)
      const driftItems = async () => (await new Outbox(drifty.stateDir).list()).flatMap((i) => (i.type === 'drift' ? i.payload.items : []));
      // the two edits may land in different checks: wait for both reports
      const seen = async () => {
        const items = await driftItems();
        return items.some((i) => i.status === 'repaired') && items.some((i) => i.id === 'directory:/etc/app');
      };
      await until(seen).finally(() => daemon.stop());

      expect(await readFile(motd, 'utf8')).toBe(MOTD_RENDERED);
      expect((await stat(join(drifty.root, 'etc/app'))).mode & 0o777).toBe(0o700); // report only: left as found
      const items = await driftItems();
      expect(items).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ id: 'file:/etc/motd', status: 'drifted', aspects: ['content'] }),
          expect.objectContaining({ id: 'file:/etc/motd', status: 'repaired' }),
          expect.objectContaining({ id: 'directory:/etc/app', status: 'drifted', aspects: ['mode'] }),
        ]),
      );
      // reported once, not on every check
      expect(items.filter((i) => i.id === 'directory:/etc/app')).toHaveLength(1);
    } finally {
      await drifty.cleanup();
    }
  });
});

describe('Daemon facts', () => {
  it('gathers with the given refresher at start and every factsRefreshMs, and re-applies when they change', async () => {
    const often = await agentFixture({
      hubUrl: 'http://127.0.0.1:1',
      intervals: { factsRefreshMs: 200, backoffMinMs: 50, backoffMaxMs: 200 },
    });
    try {
      await writeKeyFile(nodeKeyPath(often.stateDir), generateKeyPair());
      const template = 'host {{facts.hostname}}\n';
      const sha = sha256Hex(template);
      const base = filesOnlyPayload({ expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
      const payload = {
        ...base,
        resources: base.resources.map((r) => (r.type === 'file' ? { ...r, body: { ...r.body, sha256: sha } } : r)),
        files: { [sha]: { size: Buffer.byteLength(template), encoding: 'utf8' as const, data: template } },
      };
      const state = new AgentState(often.stateDir);
      await state.acceptSerial(5);
      await state.writeBundle(signed(payload, often.hub));
      // The node is renamed after the second gathering: its facts change once.
      let calls = 0;
      const refreshFacts = async () => {
        calls++;
        const facts = { ...FACTS, hostname: calls < 2 ? 'projector' : 'renamed' };
        return { gatheredAt: new Date().toISOString(), hash: factsHash(facts), facts };
      };
      const daemon = await Daemon.start({ config: often.config, log: silent, agentVersion: 't', refreshFacts });
      try {
        expect(calls).toBe(1); // no cache: gathered before anything is applied
        const motd = join(often.root, 'etc/motd');
        await until(async () => (await readFile(motd, 'utf8').catch(() => '')) === 'host renamed\n');
        await until(async () => calls >= 3); // and again on every period, changed or not
      } finally {
        await daemon.stop();
      }
    } finally {
      await often.cleanup();
    }
  });
});

describe('Daemon without its hub', () => {
  it('refuses to start when the node was never enrolled', async () => {
    const bare = await agentFixture();
    await expect(Daemon.start({ config: bare.config, log: silent, agentVersion: 't' })).rejects.toMatchObject({
      code: 'STEMS_AGENT_NOT_ENROLLED',
    });
    await bare.cleanup();
  });

  it('enforces the last good bundle at start and queues the report for later', async () => {
    // a bundle accepted earlier, valid "now" (real clock) so nothing depends on expiry handling
    const payload = filesOnlyPayload({ expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
    const state = new AgentState(fx.stateDir);
    await state.acceptSerial(5);
    await state.writeBundle(signed(payload, fx.hub));
    let drained = 0;
    const daemon = await Daemon.start({ config: fx.config, log: silent, agentVersion: 't', onIdle: () => drained++ });
    await daemon.idle();
    expect(await readFile(join(fx.root, 'etc/motd'), 'utf8')).toBe(MOTD_RENDERED);
    expect(drained).toBeGreaterThan(0); // the queue drained after the apply (the CLI collects garbage then)
    expect(daemon.connected).toBe(false);
    const queued = await new Outbox(fx.stateDir).list();
    expect(queued).toEqual([
      expect.objectContaining({ type: 'report', payload: expect.objectContaining({ serial: 5, status: 'changed' }) }),
    ]);
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
