import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBundlePayload, textFile } from './_test-bundle.js';
import { type BundleEnvelope, type BundlePayload, MAX_BUNDLE_BYTES } from './bundle.js';
import { sha256Hex } from './canonical.js';
import { type ErrorCode, isStemsError } from './errors.js';
import {
  decodePublicKey,
  encodePublicKey,
  fingerprintOf,
  generateKeyPair,
  keyIdOf,
  parseKeyPair,
  readKeyFile,
  serializeKeyPair,
  signBytes,
  signPayload,
  type VerifyExpectations,
  verifyBytes,
  verifyEnvelope,
  writeKeyFile,
} from './signing.js';

const hub = generateKeyPair();
const intruder = generateKeyPair();
const NOW = new Date('2026-01-01T12:00:00.000Z');
const expect0: VerifyExpectations = { trustedKeys: [hub.publicKey], cluster: 'colab', node: 'projector', lastSerial: 4, now: NOW };

function codeOf(fn: () => unknown): ErrorCode | 'ok' | 'not a StemsError' {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return isStemsError(err) ? err.code : 'not a StemsError';
  }
}

const sign = (payload: BundlePayload | string, pair = hub) =>
  JSON.stringify(signPayload(typeof payload === 'string' ? payload : JSON.stringify(payload), pair));
const verify = (envelope: string | Uint8Array, overrides: Partial<VerifyExpectations> = {}) =>
  verifyEnvelope(envelope, { ...expect0, ...overrides });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stems-signing-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('key pairs', () => {
  it('round-trips through a 0600 key file in a new 0700 directory', async () => {
    const path = join(dir, 'keys', 'hub.key');
    await writeKeyFile(path, hub);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'keys'))).mode & 0o777).toBe(0o700);
    const back = await readKeyFile(path);
    expect(Buffer.from(back.publicKey).equals(Buffer.from(hub.publicKey))).toBe(true);
    expect(Buffer.from(back.secretKey).equals(Buffer.from(hub.secretKey))).toBe(true);
  });

  it('refuses a missing file, a non-key file and mismatched halves', async () => {
    await expect(readKeyFile(join(dir, 'nope.key'))).rejects.toMatchObject({ code: 'STEMS_KEY_INVALID' });
    const junk = join(dir, 'junk.key');
    await writeFile(junk, 'not json');
    await expect(readKeyFile(junk)).rejects.toMatchObject({ code: 'STEMS_KEY_INVALID' });
    const mixed = JSON.parse(serializeKeyPair(hub));
    mixed.publicKey = Buffer.from(intruder.publicKey).toString('base64');
    expect(codeOf(() => parseKeyPair(JSON.stringify(mixed)))).toBe('STEMS_KEY_INVALID');
    const extra = { ...JSON.parse(serializeKeyPair(hub)), comment: 'x' };
    expect(codeOf(() => parseKeyPair(JSON.stringify(extra)))).toBe('STEMS_KEY_INVALID');
  });

  it('encodes and decodes public keys as ed25519:<base64>', () => {
    const text = encodePublicKey(hub.publicKey);
    expect(text).toMatch(/^ed25519:[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(decodePublicKey(text)).equals(Buffer.from(hub.publicKey))).toBe(true);
    expect(Buffer.from(decodePublicKey(`  ${text.slice(8)}\n`)).equals(Buffer.from(hub.publicKey))).toBe(true);
    for (const bad of ['', 'ed25519:', 'ed25519:AAAA', `ed25519:${text.slice(8, -2)}`, `${text}AA`, 'ed25519:!!!!', 'rsa:AAAA']) {
      expect(
        codeOf(() => decodePublicKey(bad)),
        bad,
      ).toBe('STEMS_KEY_INVALID');
    }
  });

  it('refuses a public key text that is not the canonical base64 of its bytes', () => {
    const b64 = encodePublicKey(hub.publicKey).slice(8);
    // 32 bytes leave 2 spare bits in the last character; setting them must not give "the same key".
    const last = b64.charAt(42);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const twin = alphabet.charAt(alphabet.indexOf(last) ^ 1);
    expect(codeOf(() => decodePublicKey(`ed25519:${b64.slice(0, 42)}${twin}=`))).toBe('STEMS_KEY_INVALID');
  });

  it('derives a 16-hex key id and an ssh-style fingerprint', () => {
    expect(keyIdOf(hub.publicKey)).toBe(sha256Hex(hub.publicKey).slice(0, 16));
    expect(keyIdOf(hub.publicKey)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyIdOf(hub.publicKey)).not.toBe(keyIdOf(intruder.publicKey));
    expect(fingerprintOf(hub.publicKey)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(fingerprintOf(hub.publicKey)).not.toBe(fingerprintOf(intruder.publicKey));
  });

  it('signs exactly as tweetnacl does (same deterministic signature)', () => {
    for (const text of ['', 'hello', 'x'.repeat(10_000)]) {
      const bytes = Buffer.from(text);
      expect(signBytes(bytes, hub.secretKey)).toBe(Buffer.from(nacl.sign.detached(bytes, hub.secretKey)).toString('base64'));
    }
    expect(() => signBytes(Buffer.from('x'), hub.secretKey.subarray(0, 32))).toThrow(RangeError);
  });

  it('signs and verifies bytes', () => {
    const bytes = Buffer.from('hello');
    const sig = signBytes(bytes, hub.secretKey);
    expect(verifyBytes(bytes, sig, hub.publicKey)).toBe(true);
    expect(verifyBytes(Buffer.from('hellp'), sig, hub.publicKey)).toBe(false);
    expect(verifyBytes(bytes, sig, intruder.publicKey)).toBe(false);
    expect(verifyBytes(bytes, 'AAAA', hub.publicKey)).toBe(false);
    expect(verifyBytes(bytes, sig, hub.publicKey.slice(1))).toBe(false);
  });
});

describe('verifyEnvelope accepts', () => {
  it('a fresh bundle signed by the trusted key, as text or bytes', () => {
    const payload = makeBundlePayload();
    const envelope = sign(payload);
    expect(verify(envelope).payload).toEqual(payload);
    expect(verify(Buffer.from(envelope)).payload.serial).toBe(5);
    expect(verify(envelope, { trustedKeys: [intruder.publicKey, hub.publicKey] }).envelope.payload).toBe(JSON.stringify(payload));
  });

  it('a bundle also signed by an unknown key besides the trusted one', () => {
    const text = JSON.stringify(makeBundlePayload());
    const envelope: BundleEnvelope = {
      payload: text,
      signatures: [...signPayload(text, intruder).signatures, ...signPayload(text, hub).signatures],
    };
    expect(verify(JSON.stringify(envelope)).payload.node).toBe('projector');
  });

  it('in stored mode, the same serial and an expired bundle (the last good one is still enforced)', () => {
    const envelope = sign(makeBundlePayload({ serial: 4 }));
    const late = new Date('2027-01-01T00:00:00.000Z');
    expect(verify(envelope, { stored: true, now: late }).payload.serial).toBe(4);
    expect(codeOf(() => verify(envelope, { stored: true, lastSerial: 5 }))).toBe('STEMS_BUNDLE_REPLAY');
    expect(codeOf(() => verify(envelope, { now: late, lastSerial: 3 }))).toBe('STEMS_BUNDLE_EXPIRED');
  });
});

describe('verifyEnvelope rejects', () => {
  // A small real bundle keeps the every-byte loops fast.
  const small = (() => {
    const [sha, file] = textFile('x = 1\n');
    return makeBundlePayload({
      resources: [
        {
          type: 'file',
          path: '/etc/x',
          body: { sha256: sha, render: false, name: 'x' },
          sensitive: false,
          id: 'file:/etc/x',
          notify: [],
          drift: 'enforce',
          origin: 'r',
        },
      ],
      files: { [sha]: file },
      vars: {},
    });
  })();

  it('every single flipped byte of the payload text (BAD_SIGNATURE)', () => {
    const good = signPayload(JSON.stringify(small), hub);
    expect(verify(JSON.stringify(good)).payload.serial).toBe(5);
    const codes = new Set<string>();
    for (let i = 0; i < good.payload.length; i++) {
      const flipped = good.payload.slice(0, i) + String.fromCharCode(good.payload.charCodeAt(i) ^ 1) + good.payload.slice(i + 1);
      const code = codeOf(() => verify(JSON.stringify({ ...good, payload: flipped })));
      codes.add(code);
      expect(code, `payload byte ${i}`).toBe('STEMS_BUNDLE_BAD_SIGNATURE');
    }
    expect(codes).toEqual(new Set(['STEMS_BUNDLE_BAD_SIGNATURE']));
  });

  it('every single flipped bit pattern of the signature text (BAD_SIGNATURE or MALFORMED)', () => {
    const good = signPayload(JSON.stringify(small), hub);
    const sig = good.signatures[0]?.sig ?? '';
    for (let i = 0; i < sig.length; i++) {
      for (const mask of [1, 2, 4, 32]) {
        const flipped = sig.slice(0, i) + String.fromCharCode(sig.charCodeAt(i) ^ mask) + sig.slice(i + 1);
        const envelope = { ...good, signatures: [{ keyId: good.signatures[0]?.keyId, sig: flipped }] };
        const code = codeOf(() => verify(JSON.stringify(envelope)));
        expect(['STEMS_BUNDLE_BAD_SIGNATURE', 'STEMS_BUNDLE_MALFORMED'], `sig char ${i} ^ ${mask}`).toContain(code);
      }
    }
  });

  it('every other spelling of the same signature bytes (one accepted form)', () => {
    const good = signPayload(JSON.stringify(small), hub);
    const { keyId, sig } = good.signatures[0] ?? { keyId: '', sig: '' };
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    let accepted = 0;
    // The last data character carries 4 spare bits: 15 other characters decode to the same bytes.
    for (const c of alphabet) {
      const text = `${sig.slice(0, 85)}${c}==`;
      if (codeOf(() => verify(JSON.stringify({ ...good, signatures: [{ keyId, sig: text }] }))) === 'ok') accepted++;
    }
    expect(accepted).toBe(1);
    // S + L (the group order) is the same point for tweetnacl; it must be refused.
    const L = [0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14];
    L.push(...Array(15).fill(0), 0x10);
    const bytes = Buffer.from(sig, 'base64');
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const v = (bytes[32 + i] as number) + (L[i] as number) + carry;
      bytes[32 + i] = v & 255;
      carry = v >> 8;
    }
    const malleated = { ...good, signatures: [{ keyId, sig: bytes.toString('base64') }] };
    expect(codeOf(() => verify(JSON.stringify(malleated)))).toBe('STEMS_BUNDLE_BAD_SIGNATURE');
  });

  it('every single flipped byte of the whole envelope text (never accepted)', () => {
    const text = sign(small);
    const bytes = Buffer.from(text);
    const allowed = ['STEMS_BUNDLE_BAD_SIGNATURE', 'STEMS_BUNDLE_MALFORMED', 'STEMS_BUNDLE_UNKNOWN_KEY'];
    for (let i = 0; i < bytes.length; i++) {
      const copy = Buffer.from(bytes);
      copy[i] = (copy[i] as number) ^ 1;
      expect(allowed, `envelope byte ${i}`).toContain(codeOf(() => verify(copy)));
    }
  });

  it('a bundle signed by another key (UNKNOWN_KEY)', () => {
    expect(codeOf(() => verify(sign(small, intruder)))).toBe('STEMS_BUNDLE_UNKNOWN_KEY');
    expect(codeOf(() => verify(sign(small), { trustedKeys: [] }))).toBe('STEMS_BUNDLE_UNKNOWN_KEY');
  });

  it('another key that claims the trusted key id (BAD_SIGNATURE)', () => {
    const text = JSON.stringify(small);
    const forged: BundleEnvelope = {
      payload: text,
      signatures: [{ keyId: keyIdOf(hub.publicKey), sig: signBytes(Buffer.from(text), intruder.secretKey) }],
    };
    expect(codeOf(() => verify(JSON.stringify(forged)))).toBe('STEMS_BUNDLE_BAD_SIGNATURE');
    // A good signature next to a forged one under the same id is still refused.
    const both = { payload: text, signatures: [...signPayload(text, hub).signatures, ...forged.signatures] };
    expect(codeOf(() => verify(JSON.stringify(both)))).toBe('STEMS_BUNDLE_MALFORMED');
  });

  it('a bundle for another node or another cluster (WRONG_NODE)', () => {
    expect(codeOf(() => verify(sign({ ...small, node: 'director' })))).toBe('STEMS_BUNDLE_WRONG_NODE');
    expect(codeOf(() => verify(sign({ ...small, cluster: 'other' })))).toBe('STEMS_BUNDLE_WRONG_NODE');
  });

  it('a lower or equal serial (REPLAY)', () => {
    expect(codeOf(() => verify(sign({ ...small, serial: 3 })))).toBe('STEMS_BUNDLE_REPLAY');
    expect(codeOf(() => verify(sign({ ...small, serial: 4 })))).toBe('STEMS_BUNDLE_REPLAY');
    expect(verify(sign({ ...small, serial: 5 })).payload.serial).toBe(5);
  });

  it('an expired bundle (EXPIRED), exactly at expiresAt and after', () => {
    const envelope = sign(small);
    expect(codeOf(() => verify(envelope, { now: new Date(small.expiresAt) }))).toBe('STEMS_BUNDLE_EXPIRED');
    expect(codeOf(() => verify(envelope, { now: new Date('2026-03-01T00:00:00Z') }))).toBe('STEMS_BUNDLE_EXPIRED');
    expect(verify(envelope, { now: new Date(Date.parse(small.expiresAt) - 1) }).payload.serial).toBe(5);
  });

  it('truncated envelopes at every length, and garbage (MALFORMED)', () => {
    const text = sign(small);
    for (let n = 0; n < text.length; n++) {
      expect(
        codeOf(() => verify(text.slice(0, n))),
        `length ${n}`,
      ).toBe('STEMS_BUNDLE_MALFORMED');
    }
    const garbage = [
      '',
      'null',
      '[]',
      '"x"',
      '{}',
      '{"payload":1,"signatures":[]}',
      JSON.stringify({ ...JSON.parse(text), signatures: [] }),
    ];
    garbage.push(JSON.stringify({ ...JSON.parse(text), extra: 1 }));
    garbage.push(' '.repeat(2 * MAX_BUNDLE_BYTES + 8192));
    for (const g of garbage)
      expect(
        codeOf(() => verify(g)),
        g.slice(0, 40),
      ).toBe('STEMS_BUNDLE_MALFORMED');
    expect(codeOf(() => verify(new Uint8Array([0xff, 0xfe, 0x00, 0x7b])))).toBe('STEMS_BUNDLE_MALFORMED');
  });

  it('a payload over MAX_BUNDLE_BYTES (MALFORMED), while a quote-heavy one under it passes the envelope cap', () => {
    const over = 'x'.repeat(MAX_BUNDLE_BYTES + 1);
    expect(codeOf(() => verify(JSON.stringify({ payload: over, signatures: signPayload('{}', hub).signatures })))).toBe(
      'STEMS_BUNDLE_MALFORMED',
    );
    // ~4.4 MiB of payload that is mostly quotes: its envelope is ~9 MiB and must still reach the signature check
    const quotes = JSON.stringify({ ...small, vars: { q: '"'.repeat(2.2 * 1024 * 1024) } });
    expect(quotes.length).toBeLessThan(MAX_BUNDLE_BYTES);
    const envelope = sign(quotes);
    expect(envelope.length).toBeGreaterThan(MAX_BUNDLE_BYTES + 4096);
    expect(verify(envelope).payload.serial).toBe(5);
  });

  it('duplicated signatures (MALFORMED)', () => {
    const envelope = signPayload(JSON.stringify(small), hub);
    const twice = { ...envelope, signatures: [...envelope.signatures, ...envelope.signatures] };
    expect(codeOf(() => verify(JSON.stringify(twice)))).toBe('STEMS_BUNDLE_MALFORMED');
  });

  it('a validly signed payload that is not JSON or not a bundle (MALFORMED)', () => {
    expect(codeOf(() => verify(sign('not json')))).toBe('STEMS_BUNDLE_MALFORMED');
    expect(codeOf(() => verify(sign('{"format":"stems.bundle/v1"}')))).toBe('STEMS_BUNDLE_MALFORMED');
    expect(codeOf(() => verify(sign({ ...small, format: 'stems.bundle/v2' } as unknown as BundlePayload)))).toBe('STEMS_BUNDLE_MALFORMED');
    expect(codeOf(() => verify(sign(JSON.stringify({ ...small, extra: true }))))).toBe('STEMS_BUNDLE_MALFORMED');
    const badPath = { ...small, resources: [{ ...small.resources[0], path: '/etc/../shadow' }] } as BundlePayload;
    expect(codeOf(() => verify(sign(badPath)))).toBe('STEMS_BUNDLE_MALFORMED');
  });

  it('a file whose content, size or presence does not match (FILE_MISMATCH)', () => {
    const [sha, file] = Object.entries(small.files)[0] ?? [];
    if (!sha || !file) throw new Error('unreachable');
    const altered = { ...small, files: { [sha]: { ...file, data: 'x = 2\n' } } };
    expect(codeOf(() => verify(sign(altered)))).toBe('STEMS_BUNDLE_FILE_MISMATCH');
    const resized = { ...small, files: { [sha]: { ...file, size: file.size + 1 } } };
    expect(codeOf(() => verify(sign(resized)))).toBe('STEMS_BUNDLE_FILE_MISMATCH');
    const base64 = { ...small, files: { [sha]: { ...file, encoding: 'base64' as const } } };
    expect(codeOf(() => verify(sign(base64)))).toBe('STEMS_BUNDLE_FILE_MISMATCH');
    expect(codeOf(() => verify(sign({ ...small, files: {} })))).toBe('STEMS_BUNDLE_FILE_MISMATCH');
  });

  it('accepts a base64 file whose bytes match', () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    const sha = sha256Hex(bytes);
    const payload = {
      ...small,
      files: { ...small.files, [sha]: { size: 4, encoding: 'base64' as const, data: bytes.toString('base64') } },
    };
    expect(verify(sign(payload)).payload.files[sha]?.size).toBe(4);
  });
});
