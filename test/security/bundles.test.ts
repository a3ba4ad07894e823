import { AgentState } from '@stems/agent';
import { generateKeyPair, type KeyPair, keyIdOf, signPayload } from '@stems/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AgentUnderTest, agentUnderTest, filesOnlyPayload, hubSigned } from './_agent.js';
import { seededRandom, snapshotTree } from './_tree.js';

// Hostile bundles against the real agent bundle path (receiveBundle → verify →
// serial on disk → real engine under a temp root). The threats are TUF's:
// arbitrary content, rollback, wrong target, mix-and-match, key compromise,
// endless data. A REAL envelope made by the hub's signing code is mutated.

/** How many mutated envelopes the storm feeds the agent. */
const STORM_CASES = 10_000;

let agent: AgentUnderTest;
let hubKey: KeyPair;
beforeEach(async () => {
  agent = await agentUnderTest();
  hubKey = agent.fx.hub;
});
afterEach(async () => {
  await agent.fx.cleanup();
});

interface Envelope {
  payload: string;
  signatures: { keyId: string; sig: string }[];
}
const parse = (text: string): Envelope => JSON.parse(text);
const withPayload = (env: Envelope, payload: string) => JSON.stringify({ ...env, payload });
const flipChar = (text: string, at: number, mask: number) =>
  text.slice(0, at) + String.fromCharCode(text.charCodeAt(at) ^ mask) + text.slice(at + 1);
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Every family of mutation, each a named list of envelope texts, all different from `good`. */
function mutations(good: string, other: string, foreign: KeyPair): Map<string, string[]> {
  const env = parse(good);
  const sig = env.signatures[0]!;
  const families = new Map<string, string[]>();
  const add = (family: string, text: string) => {
    if (text === good) return;
    families.set(family, [...(families.get(family) ?? []), text]);
  };
  // Every single-byte flip of the signed payload, four ways per byte.
  for (let i = 0; i < env.payload.length; i++) {
    for (const mask of [0x01, 0x02, 0x04, 0x20]) add('payload byte flip', withPayload(env, flipChar(env.payload, i, mask)));
  }
  // Every character of the signature and key id replaced by other base64 / hex digits.
  for (let i = 0; i < sig.sig.length; i++) {
    for (const k of [1, 17, 33]) {
      const c = B64[(B64.indexOf(sig.sig.charAt(i)) + k) % 64]!;
      add('signature byte flip', JSON.stringify({ ...env, signatures: [{ ...sig, sig: sig.sig.slice(0, i) + c + sig.sig.slice(i + 1) }] }));
    }
  }
  for (let i = 0; i < sig.keyId.length; i++) {
    const c = sig.keyId[i] === '0' ? '1' : '0';
    add('key id flip', JSON.stringify({ ...env, signatures: [{ ...sig, keyId: sig.keyId.slice(0, i) + c + sig.keyId.slice(i + 1) }] }));
  }
  // Every truncation of the envelope text, and every single-byte flip of it (structure included).
  for (let n = 0; n < good.length; n++) add('truncation', good.slice(0, n));
  for (let i = 0; i < good.length; i++) add('envelope byte flip', flipChar(good, i, 0x01));
  // Field swaps, duplicated and foreign signatures, mix-and-match with another real bundle.
  const o = parse(other);
  add('field swap', JSON.stringify({ payload: JSON.stringify(env.signatures), signatures: [{ keyId: sig.keyId, sig: sig.sig }] }));
  add('field swap', JSON.stringify({ signatures: env.signatures, payload: env.payload, extra: 1 }));
  add('field swap', JSON.stringify({ payload: env.payload }));
  add('field swap', JSON.stringify({ payload: env.payload, signatures: [] }));
  add('field swap', JSON.stringify({ payload: JSON.parse(env.payload), signatures: env.signatures }));
  add('field swap', JSON.stringify({ payload: env.payload, signatures: sig }));
  add('field swap', JSON.stringify([env.payload, env.signatures]));
  add('mix and match', JSON.stringify({ payload: o.payload, signatures: env.signatures }));
  add('mix and match', JSON.stringify({ payload: env.payload, signatures: o.signatures }));
  add('duplicated signature', JSON.stringify({ ...env, signatures: [sig, sig] }));
  add('duplicated signature', JSON.stringify({ ...env, signatures: Array.from({ length: 9 }, () => sig) }));
  const foreignEnv = signPayload(env.payload, foreign);
  add('other key', JSON.stringify(foreignEnv));
  add('other key', JSON.stringify({ ...env, signatures: [{ keyId: sig.keyId, sig: foreignEnv.signatures[0]!.sig }] }));
  add('other key', JSON.stringify({ ...env, signatures: [{ keyId: keyIdOf(foreign.publicKey), sig: sig.sig }] }));
  add('other key', JSON.stringify({ ...env, signatures: [foreignEnv.signatures[0]!, { ...sig, sig: o.signatures[0]!.sig }] }));
  // The same payload object re-serialised: equal JSON values, different bytes.
  const value = JSON.parse(env.payload);
  add('re-serialised payload', withPayload(env, JSON.stringify(value, null, 2)));
  add('re-serialised payload', withPayload(env, `${env.payload} `));
  add('re-serialised payload', withPayload(env, ` ${env.payload}`));
  add('re-serialised payload', withPayload(env, JSON.stringify(Object.fromEntries(Object.entries(value).reverse()))));
  add('re-serialised payload', withPayload(env, env.payload.replace('"node"', '"\\u006eode"')));
  add('re-serialised payload', withPayload(env, env.payload.replace('"serial":6', '"serial":6.0')));
  add('re-serialised payload', withPayload(env, env.payload.replace('"serial":6', '"serial":6,"serial":6')));
  // Fill up to STORM_CASES with seeded random multi-byte corruptions of the envelope.
  const random = seededRandom(0x5eed);
  let total = [...families.values()].reduce((n, l) => n + l.length, 0);
  while (total < STORM_CASES) {
    const chars = good.split('');
    const edits = 1 + Math.floor(random() * 8);
    for (let e = 0; e < edits; e++) chars[Math.floor(random() * chars.length)] = String.fromCharCode(32 + Math.floor(random() * 95));
    const text = chars.join('');
    if (text !== good) {
      add('random corruption', text);
      total++;
    }
  }
  return families;
}

describe('a storm of mutated real bundles', () => {
  it(`rejects all ${STORM_CASES} mutations with a STEMS_BUNDLE_* code; nothing under the root or in the state changes`, async () => {
    const state = new AgentState(agent.fx.stateDir);
    const first = hubSigned(hubKey, { serial: 5 });
    expect((await agent.receive(first, state)).accepted).toBe(true);
    const good = hubSigned(hubKey, { serial: 6, desired: { vars: { swappiness: 60 } } });
    const other = hubSigned(hubKey, { serial: 7, desired: { vars: { swappiness: 1 } } });
    const rootBefore = await snapshotTree(agent.fx.root);
    const stateBefore = await snapshotTree(agent.fx.stateDir);

    const families = mutations(good, other, generateKeyPair());
    let tried = 0;
    let rejected = 0;
    const codes = new Map<string, number>();
    const started = performance.now();
    for (const [family, texts] of families) {
      for (const text of texts) {
        tried++;
        const outcome = await agent.receive(text, state);
        const code = outcome.accepted ? 'ACCEPTED' : outcome.error.code;
        if (!outcome.accepted && code.startsWith('STEMS_BUNDLE_') && outcome.report.status === 'rejected') rejected++;
        else expect.fail(`${family}: mutation accepted or wrongly coded (${code}): ${text.slice(0, 200)}`);
        codes.set(code, (codes.get(code) ?? 0) + 1);
      }
    }
    const ms = performance.now() - started;
    expect(tried).toBeGreaterThanOrEqual(STORM_CASES);
    expect(rejected).toBe(tried);
    // Every family present, and each rejected for a reason of its own kind.
    expect([...families.keys()].sort()).toEqual(
      [
        'duplicated signature',
        'envelope byte flip',
        'field swap',
        'key id flip',
        'mix and match',
        'other key',
        'payload byte flip',
        'random corruption',
        're-serialised payload',
        'signature byte flip',
        'truncation',
      ].sort(),
    );
    expect(codes.get('STEMS_BUNDLE_BAD_SIGNATURE')).toBeGreaterThan(4000);
    expect(codes.has('STEMS_BUNDLE_UNKNOWN_KEY')).toBe(true);
    expect(codes.has('STEMS_BUNDLE_MALFORMED')).toBe(true);
    // Nothing written: the root and the state dir are byte-for-byte (and mtime) as before.
    expect(await snapshotTree(agent.fx.root)).toEqual(rootBefore);
    expect(await snapshotTree(agent.fx.stateDir)).toEqual(stateBefore);
    const restarted = new AgentState(agent.fx.stateDir);
    expect(await restarted.lastSerial()).toBe(5);
    expect(await restarted.readBundle()).toBe(first);
    // The unmutated envelope is accepted: the storm was rejected for its mutations alone.
    expect((await agent.receive(good, restarted)).accepted).toBe(true);
    console.info(
      `[security] bundles: ${tried} tried, ${rejected} rejected in ${Math.round(ms)} ms; ${JSON.stringify(Object.fromEntries(codes))}`,
    );
  }, 120_000);
});

describe('validly signed but wrong bundles', () => {
  async function rejects(text: string, state: AgentState, code: string): Promise<void> {
    const root = await snapshotTree(agent.fx.root);
    const stateFiles = await snapshotTree(agent.fx.stateDir);
    const outcome = await agent.receive(text, state);
    expect(outcome.accepted ? 'ACCEPTED' : outcome.error.code).toBe(code);
    expect(await snapshotTree(agent.fx.root)).toEqual(root);
    expect(await snapshotTree(agent.fx.stateDir)).toEqual(stateFiles);
  }

  it('replays of an older or equal serial are refused, also after an agent restart', async () => {
    const state = new AgentState(agent.fx.stateDir);
    const five = hubSigned(hubKey, { serial: 5 });
    expect((await agent.receive(five, state)).accepted).toBe(true);
    for (const replay of [five, hubSigned(hubKey, { serial: 4 }), hubSigned(hubKey, { serial: 5, desired: { vars: { swappiness: 1 } } })]) {
      await rejects(replay, state, 'STEMS_BUNDLE_REPLAY');
      await rejects(replay, new AgentState(agent.fx.stateDir), 'STEMS_BUNDLE_REPLAY');
    }
    expect(await new AgentState(agent.fx.stateDir).lastSerial()).toBe(5);
  });

  it('a bundle for another node or another cluster is refused (wrong target)', async () => {
    const state = new AgentState(agent.fx.stateDir);
    await rejects(hubSigned(hubKey, { serial: 9, desired: { node: 'director' } }), state, 'STEMS_BUNDLE_WRONG_NODE');
    await rejects(hubSigned(hubKey, { serial: 9, desired: { cluster: 'other' } }), state, 'STEMS_BUNDLE_WRONG_NODE');
  });

  it('an expired bundle is refused (a frozen hub cannot keep feeding an old one)', async () => {
    const state = new AgentState(agent.fx.stateDir);
    await rejects(
      hubSigned(hubKey, { serial: 9, issuedAt: new Date('2025-12-01T00:00:00Z'), lifetimeSec: 3600 }),
      state,
      'STEMS_BUNDLE_EXPIRED',
    );
  });

  it('a valid signature over a payload that fails the schema is refused as malformed', async () => {
    const state = new AgentState(agent.fx.stateDir);
    const base = filesOnlyPayload({ serial: 9 });
    const sign = (value: unknown) => JSON.stringify(signPayload(JSON.stringify(value), hubKey));
    for (const bad of [
      { ...base, extra: true },
      { ...base, serial: 0 },
      { ...base, format: 'stems.bundle/v2' },
      { ...base, resources: [{ ...base.resources[0], path: 'relative/path' }] },
      'not an object',
      [base],
    ]) {
      await rejects(sign(bad), state, 'STEMS_BUNDLE_MALFORMED');
    }
    // Prototype-pollution keys in the signed JSON text itself.
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const text = JSON.stringify(base).replace(/^\{/, `{"${key}":{"polluted":true,"prototype":{"polluted":true}},`);
      await rejects(JSON.stringify(signPayload(text, hubKey)), state, 'STEMS_BUNDLE_MALFORMED');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await rejects(JSON.stringify(signPayload('{"format":', hubKey)), state, 'STEMS_BUNDLE_MALFORMED');
  });

  it('a file whose bytes do not match its signed sha256 is refused (no partial bundle)', async () => {
    const state = new AgentState(agent.fx.stateDir);
    const payload = filesOnlyPayload({ serial: 9 });
    const [sha, file] = Object.entries(payload.files)[0]!;
    const lying = { ...payload, files: { [sha]: { ...file, data: `${file.data}!`, size: file.size + 1 } } };
    await rejects(JSON.stringify(signPayload(JSON.stringify(lying), hubKey)), state, 'STEMS_BUNDLE_FILE_MISMATCH');
  });

  it('endless data: a 40 MB envelope is refused by size before it is parsed', async () => {
    const state = new AgentState(agent.fx.stateDir);
    const huge = JSON.stringify({ payload: 'x'.repeat(40 * 1024 * 1024), signatures: [] });
    const started = performance.now();
    await rejects(huge, state, 'STEMS_BUNDLE_MALFORMED');
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
