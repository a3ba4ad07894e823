import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Facts } from '@stems/shared';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentFacts, factsHash, readCachedFacts } from './cache.js';
import { readCustomFacts } from './custom.js';
import { gatherFacts } from './gather.js';

let dir: string;
let factsDir: string;
const warnings: string[] = [];
// a real pino logger writing into an array, so the test can see the warnings
const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(line) });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stems-agent-facts-'));
  factsDir = join(dir, 'facts.d');
  await mkdir(factsDir);
  await writeFile(join(factsDir, 'rack.json'), JSON.stringify({ row: 3, slot: 'b' }));
  await writeFile(join(factsDir, 'owner.yaml'), 'team: infra\noncall: [ada, bob]\n');
  await writeFile(join(factsDir, 'broken.yaml'), 'a: [unclosed\n');
  await writeFile(join(factsDir, 'bad.json'), '{nope');
  await writeFile(join(factsDir, 'README.txt'), 'not a facts file');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('custom facts', () => {
  it('merges JSON/YAML files by name and skips broken ones with a warning', async () => {
    warnings.length = 0;
    const custom = await readCustomFacts(factsDir, log);
    expect(custom).toEqual({ rack: { row: 3, slot: 'b' }, owner: { team: 'infra', oncall: ['ada', 'bob'] } });
    expect(warnings.join('\n')).toMatch(/broken\.yaml/);
    expect(warnings.join('\n')).toMatch(/bad\.json/);
  });

  it('a missing facts.d is no custom facts, not an error', async () => {
    expect(await readCustomFacts(join(dir, 'nope'), log)).toEqual({});
  });
});

describe('gatherFacts on this machine', () => {
  it('normalises to the shared Facts schema', async () => {
    const facts = await gatherFacts({ factsDir, log });
    expect(Facts.parse(facts)).toEqual(facts);
    expect(facts.hostname).toBe(hostname().split('.')[0]);
    expect(Array.isArray(facts.gpus)).toBe(true);
    expect(Array.isArray(facts.disks)).toBe(true);
    expect(facts.cpu.cores).toBeGreaterThan(0);
    expect(facts.memory.totalBytes).toBeGreaterThan(0);
    expect(facts.os.arch).not.toBe('');
    expect(facts.network.every((n) => n.iface !== 'lo')).toBe(true);
    expect(facts.custom).toMatchObject({ rack: { row: 3 } });
  });
});

describe('facts cache', () => {
  it('gathers once, then serves the cache while fresh (custom facts re-read)', async () => {
    const stateDir = join(dir, 'state');
    const first = await currentFacts({ stateDir, factsDir, maxAgeMs: 60_000, log });
    expect(first.fromCache).toBe(false);
    expect(first.hash).toBe(factsHash(first.facts));
    expect((await readCachedFacts(stateDir))?.hash).toBe(first.hash);

    await writeFile(join(factsDir, 'extra.json'), '{"x":1}');
    const second = await currentFacts({ stateDir, factsDir, maxAgeMs: 60_000, log });
    expect(second.fromCache).toBe(true);
    expect(second.gatheredAt).toBe(first.gatheredAt);
    expect(second.facts.custom).toMatchObject({ extra: { x: 1 } });
    expect(second.hash).not.toBe(first.hash);

    const later = () => new Date(Date.parse(first.gatheredAt) + 120_000);
    const stale = await currentFacts({ stateDir, factsDir, maxAgeMs: 60_000, log, now: later });
    expect(stale.fromCache).toBe(false);
  });
});
