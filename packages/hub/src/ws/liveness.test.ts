import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { healthSample } from '../_test-fixtures.js';
import { openStore, type Store } from '../store/index.js';
import { Liveness } from './liveness.js';

let dir: string;
let store: Store;
afterEach(async () => {
  store?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function storeWith(...names: string[]): Promise<Store> {
  dir = await mkdtemp(join(tmpdir(), 'stems-liveness-'));
  store = openStore(join(dir, 'hub.db'));
  for (const name of names)
    store.nodes.upsert({ name, publicKey: `ed25519:${name}`, fingerprint: name, state: 'accepted', at: '2026-01-01T00:00:00.000Z' });
  return store;
}

const sample = (uptimeSec: number) => healthSample(uptimeSec);

/** Counts the write transactions that reach the database file (WAL commits). */
const commits = (s: Store) => (s.db.pragma('data_version', { simple: true }) as number) + 0;

describe('Liveness', () => {
  it('stores the latest time of every node and the newest health sample of each within flushMs, in one transaction', async () => {
    const s = await storeWith('a', 'b');
    const live = new Liveness(s, 50);
    live.touch('a', '2026-01-01T00:00:01.000Z');
    live.touch('b', '2026-01-01T00:00:02.000Z');
    live.health('a', sample(1));
    live.health('b', sample(2));
    live.touch('a', '2026-01-01T00:00:03.000Z');
    live.health('a', sample(3));
    expect(s.nodes.get('a')?.lastSeen).toBe('2026-01-01T00:00:00.000Z'); // not yet
    expect(s.events.latestHealth('a')).toBeUndefined();
    const other = openStore(join(dir, 'hub.db')); // data_version moves only for commits made by another connection
    const before = commits(other);
    await expect.poll(() => s.events.latestHealth('a')?.uptimeSec).toBe(3);
    expect(s.nodes.get('a')?.lastSeen).toBe('2026-01-01T00:00:03.000Z');
    expect(s.nodes.get('b')?.lastSeen).toBe('2026-01-01T00:00:02.000Z');
    expect(s.events.latestHealth('b')?.uptimeSec).toBe(2);
    expect(commits(other) - before).toBe(1);
    other.close();
  });

  it('flush() stores what is pending at once (shutdown)', async () => {
    const s = await storeWith('a');
    const live = new Liveness(s, 60_000);
    live.touch('a', '2026-01-01T00:00:05.000Z');
    live.health('a', sample(5));
    live.flush();
    expect(s.nodes.get('a')?.lastSeen).toBe('2026-01-01T00:00:05.000Z');
    expect(s.events.latestHealth('a')?.uptimeSec).toBe(5);
    live.flush(); // nothing pending: no write, no error
  });
});
