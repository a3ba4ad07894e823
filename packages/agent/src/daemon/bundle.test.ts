import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type ApplyReport, type BundlePayload, generateKeyPair, sha256Hex, signPayload } from '@stems/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AgentState } from '../state/store.js';
import { type AgentFixture, agentFixture, FACTS, filesOnlyPayload, MOTD_RENDERED, NOW, signed, silent } from './_test-fixtures.js';
import { loadLastGood, type ReceiveOptions, receiveBundle } from './bundle.js';
import { type Engine, loadEngine } from './engine-port.js';

let fx: AgentFixture;
let engine: Engine;
beforeEach(async () => {
  fx = await agentFixture();
  engine = await loadEngine({ root: fx.root, log: silent });
});
afterEach(async () => {
  await fx.cleanup();
});

function options(state: AgentState, applied: BundlePayload[] = []): ReceiveOptions {
  return {
    state,
    hubKey: fx.config.hubKey,
    node: 'projector',
    cluster: 'colab',
    now: NOW,
    log: silent,
    factsHash: 'facts-hash',
    apply: async (payload): Promise<ApplyReport> => {
      applied.push(payload);
      return engine.apply(payload, FACTS, 'facts-hash');
    },
  };
}

const rootEntries = () => readdir(fx.root);

describe('receiveBundle', () => {
  it('accepts a good bundle: serial, envelope and report persist, the root converges', async () => {
    const state = new AgentState(fx.stateDir);
    const text = signed(filesOnlyPayload(), fx.hub);
    const outcome = await receiveBundle(text, options(state));
    expect(outcome.accepted).toBe(true);
    expect(outcome.report).toMatchObject({ serial: 5, status: 'changed' });
    expect(await readFile(join(fx.root, 'etc/motd'), 'utf8')).toBe(MOTD_RENDERED);
    expect((await stat(join(fx.root, 'etc/app'))).isDirectory()).toBe(true);
    const restarted = new AgentState(fx.stateDir);
    expect(await restarted.lastSerial()).toBe(5);
    expect(await restarted.readBundle()).toBe(text);
    expect((await restarted.readLastReport())?.serial).toBe(5);
  });

  const rejections: Array<[string, () => string, string]> = [
    [
      'tampered',
      () => {
        const envelope = JSON.parse(signed(filesOnlyPayload(), fx.hub));
        envelope.payload = envelope.payload.replace('"swappiness":10', '"swappiness":99');
        return JSON.stringify(envelope);
      },
      'STEMS_BUNDLE_BAD_SIGNATURE',
    ],
    ['foreign key', () => signed(filesOnlyPayload(), generateKeyPair()), 'STEMS_BUNDLE_UNKNOWN_KEY'],
    ['other node', () => signed(filesOnlyPayload({ node: 'director' }), fx.hub), 'STEMS_BUNDLE_WRONG_NODE'],
    ['other cluster', () => signed(filesOnlyPayload({ cluster: 'other' }), fx.hub), 'STEMS_BUNDLE_WRONG_NODE'],
    ['expired', () => signed(filesOnlyPayload({ expiresAt: '2026-01-01T06:00:00.000Z' }), fx.hub), 'STEMS_BUNDLE_EXPIRED'],
    ['not JSON', () => '{"payload": ', 'STEMS_BUNDLE_MALFORMED'],
  ];
  for (const [name, make, code] of rejections) {
    it(`rejects a ${name} bundle with ${code}: nothing written, nothing applied`, async () => {
      const state = new AgentState(fx.stateDir);
      const applied: BundlePayload[] = [];
      const outcome = await receiveBundle(make(), options(state, applied));
      expect(outcome.accepted).toBe(false);
      expect(outcome.report).toMatchObject({ status: 'rejected', error: { code }, resources: [] });
      expect(applied).toEqual([]);
      expect(await rootEntries()).toEqual([]);
      expect(await new AgentState(fx.stateDir).lastSerial()).toBe(0);
      expect(await state.readBundle()).toBeUndefined();
    });
  }

  it('after a restart, a replayed (equal or older) serial is rejected and the root left as it is', async () => {
    await receiveBundle(signed(filesOnlyPayload({ serial: 5 }), fx.hub), options(new AgentState(fx.stateDir)));
    await writeFile(join(fx.root, 'etc/motd'), 'local edit\n');
    const restarted = new AgentState(fx.stateDir);
    for (const serial of [5, 4]) {
      const applied: BundlePayload[] = [];
      const outcome = await receiveBundle(signed(filesOnlyPayload({ serial }), fx.hub), options(restarted, applied));
      expect(outcome).toMatchObject({ accepted: false, report: { status: 'rejected', serial, error: { code: 'STEMS_BUNDLE_REPLAY' } } });
      expect(applied).toEqual([]);
    }
    expect(await readFile(join(fx.root, 'etc/motd'), 'utf8')).toBe('local edit\n');
    expect(await restarted.lastSerial()).toBe(5);
    const newer = await receiveBundle(signed(filesOnlyPayload({ serial: 6 }), fx.hub), options(restarted));
    expect(newer.accepted).toBe(true);
    expect(await readFile(join(fx.root, 'etc/motd'), 'utf8')).toBe(MOTD_RENDERED);
  });
});

describe('receiveBundle before a cluster is pinned', () => {
  it('takes the cluster the signed bundle names and pins it', async () => {
    const state = new AgentState(fx.stateDir);
    const outcome = await receiveBundle(signed(filesOnlyPayload(), fx.hub), { ...options(state), cluster: undefined });
    expect(outcome.accepted).toBe(true);
    expect(await new AgentState(fx.stateDir).cluster()).toBe('colab');
  });

  it('still refuses a bundle for another node or signed by another key', async () => {
    const state = new AgentState(fx.stateDir);
    const other = await receiveBundle(signed(filesOnlyPayload({ node: 'director' }), fx.hub), { ...options(state), cluster: undefined });
    expect(other.report.error?.code).toBe('STEMS_BUNDLE_WRONG_NODE');
    const foreign = await receiveBundle(signed(filesOnlyPayload(), generateKeyPair()), { ...options(state), cluster: undefined });
    expect(foreign.report.error?.code).toBe('STEMS_BUNDLE_UNKNOWN_KEY');
    expect(await state.cluster()).toBeUndefined();
    expect(await rootEntries()).toEqual([]);
  });
});

describe('loadLastGood', () => {
  const anchor = () => ({ hubKey: fx.config.hubKey, node: 'projector', cluster: 'colab', now: NOW, log: silent });

  it('re-verifies the stored bundle; an expired one is still enforced', async () => {
    const state = new AgentState(fx.stateDir);
    expect(await loadLastGood(state, anchor())).toBeUndefined();
    await receiveBundle(signed(filesOnlyPayload(), fx.hub), options(state));
    const fresh = await loadLastGood(new AgentState(fx.stateDir), anchor());
    expect(fresh).toMatchObject({ payload: { serial: 5 }, expired: false });
    const later = await loadLastGood(new AgentState(fx.stateDir), { ...anchor(), now: new Date('2027-01-01T00:00:00Z') });
    expect(later).toMatchObject({ payload: { serial: 5 }, expired: true });
  });

  it('skips the schema pass only for the exact payload this agent build stamped at acceptance', async () => {
    const state = new AgentState(fx.stateDir);
    await receiveBundle(signed(filesOnlyPayload(), fx.hub), options(state));
    const stamp = await state.readSchemaStamp();
    expect(stamp).toMatch(/^\S+ [0-9a-f]{64}\n$/);
    // A payload the schema refuses (a resource without its fields), signed by the pinned hub key and
    // planted on disk: it stands for what a stamp lets through unchecked, so the stamp must name these bytes.
    const bad = JSON.parse(JSON.stringify(filesOnlyPayload()));
    bad.resources[0] = { id: 'file:/etc/motd', type: 'file' };
    const badText = JSON.stringify(bad);
    await writeFile(state.bundlePath, JSON.stringify(signPayload(badText, fx.hub)));
    expect(await loadLastGood(new AgentState(fx.stateDir), anchor())).toBeUndefined(); // stamp names other bytes
    const [version] = (stamp as string).split(' ');
    await state.writeSchemaStamp(`0.0.0-other ${sha256Hex(badText)}\n`);
    expect(await loadLastGood(new AgentState(fx.stateDir), anchor())).toBeUndefined(); // another agent build
    await state.writeSchemaStamp(`${version} ${sha256Hex(badText)}\n`);
    expect(await loadLastGood(new AgentState(fx.stateDir), anchor())).toMatchObject({ payload: { serial: 5 } }); // skipped
  });

  it('stamps a stored bundle it checked in full (an upgraded agent), so the next load skips the schema pass', async () => {
    const state = new AgentState(fx.stateDir);
    await receiveBundle(signed(filesOnlyPayload(), fx.hub), options(state));
    const stamp = await state.readSchemaStamp();
    await rm(state.schemaStampPath);
    expect(await loadLastGood(new AgentState(fx.stateDir), anchor())).toMatchObject({ payload: { serial: 5 } });
    expect(await state.readSchemaStamp()).toBe(stamp);
  });

  it('a stored bundle altered on disk is not enforced', async () => {
    const state = new AgentState(fx.stateDir);
    await receiveBundle(signed(filesOnlyPayload(), fx.hub), options(state));
    const text = await readFile(state.bundlePath, 'utf8');
    await writeFile(state.bundlePath, text.replace('swappiness', 'swapiness'));
    expect(await loadLastGood(new AgentState(fx.stateDir), anchor())).toBeUndefined();
  });
});
