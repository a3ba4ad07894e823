import fs from 'node:fs';
import { join } from 'node:path';
import type { BundlePayload } from '@stems/shared';
import { describe, expect, it, onTestFinished } from 'vitest';
import { fileResource, type PayloadBuilder, payloadBuilder, silentLog, TEST_FACTS, tempRoot } from '../engine/_test-payload.js';
import { FakeSystemd } from '../system/_fake-systemd.js';
import { enforcementPayload } from './drift.js';
import { loadEngine } from './engine-port.js';

/** Points a file resource of `payload` at a template that cannot render (a missing variable): if it runs, the resource fails. */
function breakTemplate(b: PayloadBuilder, payload: BundlePayload, index = 0): void {
  const broken = b.body('host={{vars.nope}}\n', { render: true });
  payload.files = { ...payload.files, ...b.payload([]).files };
  const resource = payload.resources[index];
  if (resource?.type !== 'file') throw new Error('test bundle has no file resource there');
  resource.body = broken;
}

const clean = (...paths: string[]) => paths.map((path) => ({ id: `file:${path}`, aspects: [] }));

describe("the daemon engine's render record", () => {
  it('renders each template once per bundle and facts: the apply records it, checks compare the bytes on disk with that render', async () => {
    const root = await tempRoot(onTestFinished);
    const b = payloadBuilder();
    const payload = b.payload([fileResource(b, '/etc/app.conf', 'host={{facts.hostname}}\n', { render: true })]);
    const engine = await loadEngine({ root, log: silentLog, systemd: new FakeSystemd() });
    expect((await engine.apply(payload, TEST_FACTS, 'f')).status).toBe('changed');

    // Break the template in the same bundle: if the first check rendered it, the check would fail.
    breakTemplate(b, payload);
    expect(await engine.check(payload, TEST_FACTS)).toEqual(clean('/etc/app.conf'));

    // A hand edit: the bytes no longer match the digest, so the template runs (and here fails).
    const file = join(root, 'etc/app.conf');
    fs.writeFileSync(file, 'edited by hand\n');
    expect(await engine.check(payload, TEST_FACTS)).toMatchObject([{ error: { code: 'STEMS_TEMPLATE_MISSING_VAR' } }]);

    // New facts (a refresh makes a new object) start a new record: it renders again, whatever is on disk.
    fs.writeFileSync(file, 'host=director\n');
    expect(await engine.check(payload, TEST_FACTS)).toEqual(clean('/etc/app.conf'));
    expect(await engine.check(payload, { ...TEST_FACTS })).toMatchObject([{ error: { code: 'STEMS_TEMPLATE_MISSING_VAR' } }]);
  });

  it('shares the record between a bundle and the part of it an enforce repair applies, never with another bundle', async () => {
    const root = await tempRoot(onTestFinished);
    const b = payloadBuilder();
    const payload = b.payload([
      fileResource(b, '/etc/a.conf', 'a on {{facts.hostname}}\n', { render: true }),
      fileResource(b, '/etc/b.conf', 'b on {{facts.hostname}}\n', { render: true }),
    ]);
    const engine = await loadEngine({ root, log: silentLog, systemd: new FakeSystemd() });
    expect((await engine.apply(payload, TEST_FACTS, 'f')).status).toBe('changed');
    fs.writeFileSync(join(root, 'etc/b.conf'), 'edited by hand\n');

    // The repair of b alone (a new payload object) renders b, so the record learns nothing new about a:
    // a's template, broken now, is still not run by the next full check.
    const repair = await engine.apply(enforcementPayload(payload, new Set(['file:/etc/b.conf'])), TEST_FACTS, 'f');
    expect(repair.resources).toMatchObject([{ id: 'file:/etc/b.conf', outcome: 'changed' }]);
    breakTemplate(b, payload, 0);
    expect(await engine.check(payload, TEST_FACTS)).toEqual(clean('/etc/a.conf', '/etc/b.conf'));

    // The next bundle (another serial) starts an empty record: a's broken template runs.
    const next = { ...payload, serial: payload.serial + 1 };
    expect(await engine.check(next, TEST_FACTS)).toMatchObject([{ error: { code: 'STEMS_TEMPLATE_MISSING_VAR' } }, { aspects: [] }]);
  });
});
