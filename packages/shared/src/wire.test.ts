import { describe, expect, it } from 'vitest';
import { makeBundlePayload } from './_test-bundle.js';
import { generateKeyPair, signPayload } from './signing.js';
import { AgentMessage, HubMessage, MAX_FRAME_BYTES, makeBundleFrame, makeFrame, parseFrame, WIRE_VERSION } from './wire.js';

const NONCE = 'n'.repeat(43);
const SIG = `${'A'.repeat(86)}==`;
const AT = '2026-01-01T00:00:00.000Z';
const FACTS = {
  hostname: 'projector',
  fqdn: 'projector.colab.lan',
  os: { distro: 'debian', release: '12', codename: 'bookworm', kernel: '6.1.0', arch: 'x64' },
  cpu: { brand: 'Ryzen', cores: 8, physicalCores: 4 },
  memory: { totalBytes: 16e9 },
  disks: [{ device: '/dev/sda', type: 'SSD', sizeBytes: 5e11, model: 'x' }],
  filesystems: [{ mount: '/', fs: '/dev/sda1', type: 'ext4', sizeBytes: 5e11, usedBytes: 1e10 }],
  network: [{ iface: 'eth0', ipv4: '192.168.254.20', mac: '00:11:22:33:44:55' }],
  primaryIp: '192.168.254.20',
  gpus: [],
  virtual: false,
  custom: { rack: 3 },
};
const envelope = signPayload(JSON.stringify(makeBundlePayload()), generateKeyPair());

const HUB: Record<HubMessage['type'], unknown> = {
  challenge: { nonce: NONCE, hubKey: 'ed25519:AAAA' },
  welcome: { node: 'projector', cluster: 'colab', hubSig: 'AAAA', serial: 0 },
  pending: { fingerprint: 'SHA256:abc' },
  'bundle.available': { serial: 6 },
  bundle: { envelope },
  'bundle.none': {},
  ack: { of: 'm1' },
  error: { code: 'STEMS_WIRE_MALFORMED', message: 'bad', hint: 'fix it', details: { at: 1 } },
};
const AGENT: Record<AgentMessage['type'], unknown> = {
  hello: { node: 'projector', publicKey: 'ed25519:AAAA', sig: SIG, nonce: NONCE, agentVersion: '0.1.0', lastSerial: 5 },
  facts: { facts: FACTS, hash: 'h' },
  'bundle.get': { have: 5 },
  report: {
    serial: 5,
    status: 'changed',
    startedAt: AT,
    durationMs: 12,
    resources: [{ id: 'file:/etc/motd', outcome: 'changed', changes: ['content'], diff: '--- a\n+++ b\n', durationMs: 3 }],
    factsHash: 'h',
  },
  drift: { serial: 5, items: [{ id: 'file:/etc/motd', status: 'drifted', aspects: ['content', 'mode'], detectedAt: AT }] },
  health: {
    at: AT,
    uptimeSec: 100,
    load1: 0.1,
    load5: 0.2,
    load15: 0.3,
    memUsedPct: 42,
    disks: [{ mount: '/', usedPct: 12 }],
    units: [{ name: 'docker.service', active: 'active' }],
    agentVersion: '0.1.0',
    lastApply: { serial: 5, status: 'converged', at: AT },
    stale: false,
  },
  error: { code: 'STEMS_BUNDLE_REPLAY', message: 'old' },
};

const text = (type: string, payload: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ v: WIRE_VERSION, id: 'm1', type, payload, ...extra });

describe('parseFrame', () => {
  it.each(Object.entries(HUB))('accepts hub message %s', (type, payload) => {
    const result = parseFrame(HubMessage, makeFrame(type, payload, 'm1'));
    expect(result).toEqual({ ok: true, message: { v: WIRE_VERSION, id: 'm1', type, payload } });
  });

  it.each(Object.entries(AGENT))('accepts agent message %s', (type, payload) => {
    const result = parseFrame(AgentMessage, Buffer.from(makeFrame(type, payload, 'm1')));
    expect(result).toEqual({ ok: true, message: { v: WIRE_VERSION, id: 'm1', type, payload } });
  });

  it('accepts a pull without the serial the agent holds, and refuses a serial that is not one', () => {
    expect(parseFrame(AgentMessage, text('bundle.get', {})).ok).toBe(true);
    for (const have of [-1, 1.5, '5']) expect(parseFrame(AgentMessage, text('bundle.get', { have })).ok).toBe(false);
  });

  it('wraps stored envelope text in a bundle frame that parses to the same envelope', () => {
    const result = parseFrame(HubMessage, makeBundleFrame(JSON.stringify(envelope), 'h"7'));
    expect(result).toEqual({ ok: true, message: { v: WIRE_VERSION, id: 'h"7', type: 'bundle', payload: { envelope } } });
  });

  it('rejects frames that are not JSON', () => {
    for (const raw of ['', 'not json', '{"v":1', Buffer.from([0xff, 0xfe])]) {
      expect(parseFrame(HubMessage, raw)).toEqual({ ok: false, error: { code: 'STEMS_WIRE_MALFORMED', message: 'Frame is not JSON' } });
    }
  });

  it('rejects unknown types and messages of the other direction', () => {
    const unknown = parseFrame(HubMessage, text('bundle.delete', {}));
    expect(unknown.ok === false && unknown.error.code).toBe('STEMS_WIRE_MALFORMED');
    const wrongSide = parseFrame(HubMessage, text('hello', AGENT.hello));
    expect(wrongSide.ok === false && wrongSide.error.code).toBe('STEMS_WIRE_MALFORMED');
    const reverse = parseFrame(AgentMessage, text('bundle', HUB.bundle));
    expect(reverse.ok === false && reverse.error.code).toBe('STEMS_WIRE_MALFORMED');
  });

  it('rejects extra keys in the frame and in the payload, and wrong shapes', () => {
    const bad = [
      text('ack', { of: 'm1' }, { extra: 1 }),
      text('ack', { of: 'm1', extra: 1 }),
      text('bundle.available', { serial: 0 }),
      text('bundle.available', { serial: '6' }),
      text('ack', {}),
      JSON.stringify({ v: 2, id: 'm1', type: 'ack', payload: { of: 'x' } }),
      JSON.stringify({ v: 1, type: 'ack', payload: { of: 'x' } }),
      JSON.stringify({ v: 1, id: 'x'.repeat(65), type: 'ack', payload: { of: 'x' } }),
      text('error', { code: 'STEMS_NOT_A_CODE', message: 'x' }),
      text('challenge', { nonce: 'short', hubKey: 'k' }),
      '[]',
      'null',
      '"ack"',
    ];
    for (const raw of bad) {
      const result = parseFrame(HubMessage, raw);
      expect(result.ok, raw.slice(0, 80)).toBe(false);
      expect(result.ok === false && result.error.code).toBe('STEMS_WIRE_MALFORMED');
    }
    const named = parseFrame(HubMessage, text('ack', { of: 'm1', extra: 1 }));
    expect(named.ok === false && named.error.message).toMatch(/payload/);
  });

  it('rejects agent facts that do not match the schema', () => {
    const result = parseFrame(AgentMessage, text('facts', { facts: { ...FACTS, memory: { totalBytes: -1 } }, hash: 'h' }));
    expect(result.ok === false && result.error.message).toMatch(/facts\.memory\.totalBytes/);
  });

  it('rejects oversize frames before parsing them', () => {
    const big = `{"v":1,"pad":"${'x'.repeat(MAX_FRAME_BYTES)}"}`;
    const result = parseFrame(HubMessage, big);
    expect(result.ok === false && result.error.code).toBe('STEMS_WIRE_TOO_LARGE');
    const bytes = parseFrame(AgentMessage, Buffer.alloc(MAX_FRAME_BYTES + 1, 0x20));
    expect(bytes.ok === false && bytes.error.code).toBe('STEMS_WIRE_TOO_LARGE');
  });

  it('carries a bundle frame of a maximum-size, quote-heavy payload under the cap', () => {
    const payload = `{"q":"${'\\"'.repeat(4 * 1024 * 1024 - 8)}"}`;
    expect(Buffer.byteLength(payload)).toBeLessThanOrEqual(8 * 1024 * 1024);
    const frame = makeFrame('bundle', { envelope: { ...envelope, payload } }, 'm2');
    expect(parseFrame(HubMessage, frame).ok).toBe(true);
  });
});
