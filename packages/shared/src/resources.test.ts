import { describe, expect, it } from 'vitest';
import { makeBundlePayload } from './_test-bundle.js';
import { BundlePayload } from './bundle.js';
import { canonicalJson, sha256Hex } from './canonical.js';
import { AccountName, Duration, durationMs, FileMode, UnitName, Vars } from './fields.js';
import { ownedKeys, RepoResource, Resource, repoResourceType } from './resources.js';

describe('field rules', () => {
  it('modes are octal strings', () => {
    for (const ok of ['644', '0644', '0755', '2755', '0000']) expect(FileMode.safeParse(ok).success, ok).toBe(true);
    for (const bad of [644, '999', '0888', '12345', 'rw-r--r--', '0o644', ''])
      expect(FileMode.safeParse(bad).success, String(bad)).toBe(false);
  });

  it('owners are names or numeric ids; units are systemd unit names', () => {
    for (const ok of ['root', 'www-data', '_apt', '33', 'machine$']) expect(AccountName.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['Root', '-x', 'a b', '', 'x'.repeat(40)]) expect(AccountName.safeParse(bad).success, bad).toBe(false);
    for (const ok of ['docker.service', 'getty@tty1.service', 'srv-data.mount', 'x\\x2dy.service'])
      expect(UnitName.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['docker', 'a b.service', '../x.service', 'x.exe', 'x/y.service'])
      expect(UnitName.safeParse(bad).success, bad).toBe(false);
  });

  it('durations are seconds or "30s"/"2m"/"500ms"/"1h", above 0 and at most 24h', () => {
    expect(durationMs(30)).toBe(30_000);
    expect(durationMs(0.5)).toBe(500);
    expect(durationMs('500ms')).toBe(500);
    expect(durationMs('2m')).toBe(120_000);
    expect(durationMs('24h')).toBe(86_400_000);
    for (const ok of [1, '1s', '24h', '86400s']) expect(Duration.safeParse(ok).success, String(ok)).toBe(true);
    for (const bad of [0, -1, 86_401, '0s', '25h', '999999h', '1d', '1.5s', ''])
      expect(Duration.safeParse(bad).success, String(bad)).toBe(false);
  });

  it('vars refuse reserved and malformed names', () => {
    expect(Vars.safeParse({ a: 1, b_c: [1], 'd-e': { x: null } }).success).toBe(true);
    for (const bad of ['{"__proto__": 1}', '{"constructor": 1}', '{"prototype": 1}', '{"1x": 1}', '{"a b": 1}', '{"": 1}']) {
      expect(Vars.safeParse(JSON.parse(bad)).success, bad).toBe(false);
    }
  });
});

describe('resources', () => {
  it('a repo resource has exactly one type key', () => {
    expect(repoResourceType(RepoResource.parse({ unit: 'docker.service', state: 'started' }))).toBe('unit');
    expect(RepoResource.safeParse({ file: '/etc/x', directory: '/etc/y' }).success).toBe(false);
    expect(RepoResource.safeParse({ mode: '0644' }).success).toBe(false);
    expect(RepoResource.safeParse(['file', '/etc/x']).success).toBe(false);
    expect(RepoResource.safeParse({ unit: 'a.service', content: 'x', template: 'y' }).success).toBe(false);
  });

  it('ownedKeys: paths, units (and their unit file when written), packages; exec owns nothing', () => {
    const common = { id: 'x', notify: [], drift: 'enforce' as const, origin: 'o' };
    const body = { sha256: 'a'.repeat(64), render: false, name: 'n' };
    expect(ownedKeys(Resource.parse({ type: 'absent', path: '/etc/x', ...common }))).toEqual(['path:/etc/x']);
    expect(ownedKeys(Resource.parse({ type: 'unit', name: 'a.service', ...common }))).toEqual(['unit:a.service']);
    expect(ownedKeys(Resource.parse({ type: 'unit', name: 'a.service', body, ...common }))).toEqual([
      'unit:a.service',
      'path:/etc/systemd/system/a.service',
    ]);
    expect(ownedKeys(Resource.parse({ type: 'package', name: 'htop', state: 'present', ...common }))).toEqual(['package:htop']);
    expect(ownedKeys(Resource.parse({ type: 'exec', argv: ['true'], timeoutMs: 1, refreshonly: false, ...common }))).toEqual([]);
  });

  it('the test bundle helper makes a valid payload, with overrides', () => {
    expect(BundlePayload.parse(makeBundlePayload())).toEqual(makeBundlePayload());
    expect(makeBundlePayload({ serial: 9, node: 'director' })).toMatchObject({ serial: 9, node: 'director', cluster: 'colab' });
  });
});

describe('sha256Hex', () => {
  it('is the standard sha256 in hex, of a string as its UTF-8 bytes', () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'; // FIPS 180-2 test vector
    expect(sha256Hex('abc')).toBe(abc);
    expect(sha256Hex(new Uint8Array([0x61, 0x62, 0x63]))).toBe(abc);
    expect(sha256Hex('grüße')).toBe(sha256Hex(Buffer.from('grüße', 'utf8')));
    expect(sha256Hex('grüße')).not.toBe(sha256Hex(Buffer.from('grüße', 'latin1')));
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every level and keeps arrays in order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(sha256Hex(canonicalJson({ x: 1, y: 2 }))).toBe(sha256Hex(canonicalJson({ y: 2, x: 1 })));
  });

  it('keeps an own "__proto__" key instead of dropping it (no hash collision with {})', () => {
    const tricky = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    expect(canonicalJson(tricky)).toBe('{"__proto__":{"polluted":true},"a":1}');
    expect(canonicalJson(tricky)).not.toBe(canonicalJson({ a: 1 }));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
