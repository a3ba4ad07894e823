import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApplyReport } from '@stems/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Outbox } from './outbox.js';
import { AgentState } from './store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stems-agent-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const report = (serial: number): ApplyReport => ({
  serial,
  status: 'converged',
  startedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1,
  resources: [],
  factsHash: 'h',
});

describe('AgentState', () => {
  it('starts at serial 0 with no bundle', async () => {
    const state = new AgentState(dir);
    expect(await state.lastSerial()).toBe(0);
    expect(await state.readBundle()).toBeUndefined();
    expect(await state.cluster()).toBeUndefined();
  });

  it('persists the highest serial across a restart and refuses older or equal ones', async () => {
    const first = new AgentState(dir);
    await first.acceptSerial(7);
    await first.setCluster('colab');
    // a new instance is what a restarted agent sees
    const restarted = new AgentState(dir);
    expect(await restarted.lastSerial()).toBe(7);
    expect(await restarted.cluster()).toBe('colab');
    await expect(restarted.acceptSerial(7)).rejects.toMatchObject({ code: 'STEMS_BUNDLE_REPLAY' });
    await expect(restarted.acceptSerial(3)).rejects.toMatchObject({ code: 'STEMS_BUNDLE_REPLAY' });
    await restarted.acceptSerial(8);
    expect(await new AgentState(dir).lastSerial()).toBe(8);
  });

  it('writes files 0600 and leaves no temp files behind', async () => {
    const state = new AgentState(dir);
    await state.acceptSerial(1);
    await state.writeBundle('{"payload":"x","signatures":[]}');
    await state.writeLastReport(report(1));
    expect((await readdir(dir)).sort()).toEqual(['bundle.json', 'last-report.json', 'state.json']);
    for (const name of await readdir(dir)) expect((await stat(join(dir, name))).mode & 0o777).toBe(0o600);
    expect(await new AgentState(dir).readBundle()).toBe('{"payload":"x","signatures":[]}');
    expect(await new AgentState(dir).readLastReport()).toEqual(report(1));
  });

  it('a corrupt state file is STEMS_AGENT_STATE, never a silent serial 0', async () => {
    await writeFile(join(dir, 'state.json'), '{"serial": "nine"');
    await expect(new AgentState(dir).lastSerial()).rejects.toMatchObject({ code: 'STEMS_AGENT_STATE' });
  });
});

describe('Outbox', () => {
  it('keeps items across restarts and drops the oldest beyond its limit', async () => {
    const box = new Outbox(dir, 3);
    for (let serial = 1; serial <= 5; serial++) await box.push({ type: 'report', payload: report(serial) });
    const restarted = new Outbox(dir, 3);
    expect((await restarted.list()).map((i) => i.payload.serial)).toEqual([3, 4, 5]);
    expect(await restarted.dropped()).toBe(2);
    await restarted.shift(2);
    expect((await new Outbox(dir, 3).list()).map((i) => i.payload.serial)).toEqual([5]);
    expect((await readdir(join(dir, 'outbox'))).filter((n) => n !== 'dropped.json')).toHaveLength(1);
  });

  it('moves the single-file outbox of earlier versions into its directory, keeping order and the dropped count', async () => {
    const items = [1, 2].map((serial) => ({ type: 'report', payload: report(serial) }));
    await writeFile(join(dir, 'outbox.json'), JSON.stringify({ items, dropped: 4 }));
    const box = new Outbox(dir, 3);
    await box.push({ type: 'report', payload: report(3) });
    expect((await box.list()).map((i) => i.payload.serial)).toEqual([1, 2, 3]);
    expect(await box.dropped()).toBe(4);
    await expect(stat(join(dir, 'outbox.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
