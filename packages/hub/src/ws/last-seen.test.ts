import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../store/index.js';
import { LastSeen } from './last-seen.js';

let dir: string;
let store: Store;
afterEach(async () => {
  store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function storeWith(...names: string[]): Promise<Store> {
  dir = await mkdtemp(join(tmpdir(), 'stems-last-seen-'));
  store = openStore(join(dir, 'hub.db'));
  for (const name of names)
    store.nodes.upsert({ name, publicKey: `ed25519:${name}`, fingerprint: name, state: 'accepted', at: '2026-01-01T00:00:00.000Z' });
  return store;
}

describe('LastSeen', () => {
  it('stores the latest time of every node heard from within flushMs, in one transaction', async () => {
    const s = await storeWith('a', 'b');
    const seen = new LastSeen(s, 50);
    seen.touch('a', '2026-01-01T00:00:01.000Z');
    seen.touch('b', '2026-01-01T00:00:02.000Z');
    seen.touch('a', '2026-01-01T00:00:03.000Z');
    expect(s.nodes.get('a')?.lastSeen).toBe('2026-01-01T00:00:00.000Z'); // not yet
    await new Promise((r) => setTimeout(r, 150));
    expect(s.nodes.get('a')?.lastSeen).toBe('2026-01-01T00:00:03.000Z');
    expect(s.nodes.get('b')?.lastSeen).toBe('2026-01-01T00:00:02.000Z');
  });

  it('flush() stores what is pending at once (shutdown)', async () => {
    const s = await storeWith('a');
    const seen = new LastSeen(s, 60_000);
    seen.touch('a', '2026-01-01T00:00:05.000Z');
    seen.flush();
    expect(s.nodes.get('a')?.lastSeen).toBe('2026-01-01T00:00:05.000Z');
    seen.flush(); // nothing pending: no write, no error
  });
});
