import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEngine } from '@stems/agent';
import type { ApplyReport } from '@stems/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { silent } from '../../packages/agent/src/daemon/_test-fixtures.js';
import { fileResource, payloadBuilder, resource, TEST_FACTS } from '../../packages/agent/src/engine/_test-payload.js';
import { snapshotTree } from './_tree.js';

// A local user who can write a managed path's parent directory races the root
// agent: a separate process keeps swapping /etc/app (the parent) and
// /etc/app/conf (the file) for symlinks to a victim directory and file while
// the real engine applies 1,000 times. Each check of a parent is only as good
// as the moment it was made: the write itself must not follow a link.

const APPLIES = 1000;

/** The attacker: swaps the parent and the file for links, back and forth, as fast as it can, until killed. */
const ATTACKER = `
const fs = require('node:fs');
const [app, aside, victimDir] = process.argv.slice(1);
let swaps = 0;
process.on('SIGTERM', () => { process.stdout.write(String(swaps)); process.exit(0); });
const quiet = (fn) => { try { fn(); return true; } catch { return false; } };
setInterval(() => {}, 1000);
(function loop() {
  for (let i = 0; i < 200; i++) {
    if (quiet(() => fs.renameSync(app, aside)) && quiet(() => fs.symlinkSync(victimDir, app))) swaps++;
    quiet(() => fs.unlinkSync(app));
    quiet(() => fs.renameSync(aside, app));
    if (quiet(() => fs.renameSync(app + '/conf', aside + '.conf')) && quiet(() => fs.symlinkSync(victimDir + '/conf', app + '/conf'))) swaps++;
    quiet(() => fs.unlinkSync(app + '/conf'));
    quiet(() => fs.renameSync(aside + '.conf', app + '/conf'));
  }
  setImmediate(loop);
})();
`;

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

describe('agent writes under a symlink race', () => {
  it(`never writes the victim while a local user swaps the parent and the file for links during ${APPLIES} applies`, async () => {
    const base = await mkdtemp(join(tmpdir(), 'stems-race-'));
    cleanup.push(() => rm(base, { recursive: true, force: true }));
    const root = join(base, 'root');
    const victimDir = join(base, 'victim');
    await mkdir(join(root, 'etc/app'), { recursive: true });
    await mkdir(victimDir);
    await writeFile(join(victimDir, 'conf'), 'root:secret\n', { mode: 0o600 });
    const before = await snapshotTree(victimDir);

    // Two bundles that differ in the file's content, so that every apply writes it.
    const payloads = ['a', 'b'].map((v) => {
      const b = payloadBuilder();
      return b.payload([
        resource('directory', { id: 'directory:/etc/app', path: '/etc/app', mode: '0755' }),
        fileResource(b, '/etc/app/conf', `setting=${v}\n`, { mode: '0644' }),
      ]);
    });
    const engine = await loadEngine({ root, log: silent });

    const attacker = spawn(process.execPath, ['-e', ATTACKER, join(root, 'etc/app'), join(root, 'etc/app.aside'), victimDir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let swapsText = '';
    attacker.stdout.on('data', (d: Buffer) => {
      swapsText += d.toString();
    });
    const exited = new Promise((resolve) => attacker.once('exit', resolve));
    cleanup.push(async () => {
      attacker.kill('SIGKILL');
      await exited;
    });

    const statuses: Record<string, number> = {};
    const codes = new Set<string>();
    for (let i = 0; i < APPLIES; i++) {
      const report: ApplyReport = await engine.apply(payloads[i % 2] as (typeof payloads)[number], TEST_FACTS, 'f');
      statuses[report.status] = (statuses[report.status] ?? 0) + 1;
      for (const r of report.resources) if (r.error) codes.add(r.error.code);
    }
    attacker.kill('SIGTERM');
    await exited;
    const swaps = Number(swapsText);

    // The race was run: the attacker swapped links in thousands of times and the engine met them.
    expect(swaps).toBeGreaterThan(APPLIES);
    expect(codes.has('STEMS_APPLY_SYMLINK')).toBe(true);
    // …and the victim, and the directory it lives in, are exactly as they were.
    expect(await snapshotTree(victimDir)).toEqual(before);
    console.log(`${APPLIES} applies against ${swaps} link swaps: ${JSON.stringify(statuses)}; error codes ${[...codes].join(', ')}`);
  }, 120_000);
});
