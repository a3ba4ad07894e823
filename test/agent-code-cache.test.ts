import { chmod, copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, runCli } from './helpers/processes.js';

// The installed agent is dist/stems-agent.mjs alone: a loader that compiles
// the embedded code with a V8 code cache kept next to the file.
const BUNDLE = new URL('../packages/agent/dist/stems-agent.mjs', import.meta.url).pathname;

let dir: string;
let agent: string;
let cache: string;
beforeAll(async () => {
  assertBuilt();
  dir = await mkdtemp(join(tmpdir(), 'stems-code-cache-'));
  agent = join(dir, 'stems-agent.mjs');
  cache = `${agent}.cache`;
  await copyFile(BUNDLE, agent);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `apply --once` on a node that was never enrolled: fails with its code, and still exercises the loader. */
async function applyOnce(env: NodeJS.ProcessEnv = {}): Promise<void> {
  const res = await runCli(process.execPath, [agent, 'apply', '--once', '--config', join(dir, 'none.yaml'), '--state', dir], { env });
  expect(res.stderr).toContain('STEMS_');
  expect(res.code).toBe(1);
}
const inode = async () => (await stat(cache)).ino;

describe('the agent bundle’s code cache', () => {
  it('is not written by --version, nor with STEMS_AGENT_CODE_CACHE=off', async () => {
    const res = await runCli(process.execPath, [agent, '--version']);
    expect(res.stdout).toMatch(/^\d+\.\d+\.\d+/);
    await applyOnce({ STEMS_AGENT_CODE_CACHE: 'off' });
    await expect(stat(cache)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('is written after an apply (0644), then used as is: the next run does not replace it', async () => {
    await applyOnce();
    const first = await stat(cache);
    expect(first.mode & 0o777).toBe(0o644);
    expect(first.size).toBeGreaterThan(100_000);
    await applyOnce();
    expect(await inode()).toBe(first.ino);
  });

  it('is replaced when it belongs to other code (same length, other digest)', async () => {
    const before = await inode();
    const bytes = await readFile(cache);
    bytes[0] = (bytes[0] ?? 0) ^ 0xff; // the header: sha256 of the code it was made from
    await writeFile(cache, bytes);
    await applyOnce();
    expect(await inode()).not.toBe(before);
  });

  it('is made from code the loader reads from a comment in its own file; a damaged file says so', async () => {
    const text = await readFile(agent, 'latin1');
    // The code sits in one block comment; its own `*/` are written `\0/`, so the comment ends only at the file's end.
    expect(text.indexOf('*/', text.indexOf('\n/*(function ('))).toBe(text.length - 3);
    // Lines added after it (as a test of upgrades does) change nothing.
    const appended = join(dir, 'appended.mjs');
    await writeFile(appended, `${text}// a newer build\n`, 'latin1');
    expect((await runCli(process.execPath, [appended, '--version'])).stdout).toMatch(/^\d+\.\d+\.\d+/);
    const damaged = join(dir, 'damaged.mjs');
    const cut = text.indexOf('\n/*(function (') + 1000; // ten bytes of the code lost
    await writeFile(damaged, text.slice(0, cut) + text.slice(cut + 10), 'latin1');
    const res = await runCli(process.execPath, [damaged, '--version']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('is damaged (its code is not where its loader expects it): install stems-agent again');
  });

  it('is refused and replaced when others could write it', async () => {
    await chmod(cache, 0o666);
    const before = await inode();
    await applyOnce();
    expect(await inode()).not.toBe(before);
    expect((await stat(cache)).mode & 0o777).toBe(0o644);
  });
});

describe('the agent bundle', () => {
  it('holds systeminformation compressed, and a facts refresh still gathers with it', async () => {
    // `cpuCurrentSpeed` is systeminformation's own (the agent never calls it): its text is not in the file as such.
    expect(await readFile(agent, 'latin1')).not.toContain('cpuCurrentSpeed');
    const res = await runCli(process.execPath, [agent, 'facts', '--refresh', '--json', '--config', join(dir, 'none.yaml'), '--state', dir]);
    expect(res.stderr).toBe('');
    expect(JSON.parse(res.stdout).cpu.cores).toBeGreaterThan(0);
  });

  it('leaves out source-map, which handlebars only tries to load (templates render without it: test/e2e)', async () => {
    expect(await readFile(agent, 'latin1')).not.toContain('SourceMapGenerator');
  });
});
