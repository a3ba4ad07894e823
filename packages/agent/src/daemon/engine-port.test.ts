import fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { fileResource, payloadBuilder, silentLog, TEST_FACTS, tempRoot } from '../engine/_test-payload.js';
import { FakeSystemd } from '../system/_fake-systemd.js';
import { loadEngine } from './engine-port.js';

describe("the daemon engine's drift check", () => {
  it('renders each template once per bundle and facts; later checks compare the bytes on disk with that render', async () => {
    const root = await tempRoot(onTestFinished);
    const b = payloadBuilder();
    const payload = b.payload([fileResource(b, '/etc/app.conf', 'host={{facts.hostname}}\n', { render: true })]);
    const engine = await loadEngine({ root, log: silentLog, systemd: new FakeSystemd() });
    expect((await engine.apply(payload, TEST_FACTS, 'f')).status).toBe('changed');
    const clean = [{ id: 'file:/etc/app.conf', aspects: [] }];
    expect(await engine.check(payload, TEST_FACTS)).toEqual(clean);

    // Point the resource at a template that cannot render (a missing variable), in the same bundle
    // object: if the template ran, the check would fail.
    const broken = b.body('host={{vars.nope}}\n', { render: true });
    payload.files = b.payload([]).files;
    const [resource] = payload.resources;
    if (resource?.type !== 'file') throw new Error('test bundle has no file resource');
    resource.body = broken;
    expect(await engine.check(payload, TEST_FACTS)).toEqual(clean);

    // A hand edit: the bytes no longer match the digest, so the template runs (and here fails).
    const file = join(root, 'etc/app.conf');
    fs.writeFileSync(file, 'edited by hand\n');
    expect(await engine.check(payload, TEST_FACTS)).toMatchObject([{ error: { code: 'STEMS_TEMPLATE_MISSING_VAR' } }]);

    // New facts (a refresh makes a new object) start a new record: it renders again, whatever is on disk.
    fs.writeFileSync(file, 'host=director\n');
    expect(await engine.check(payload, TEST_FACTS)).toEqual(clean);
    expect(await engine.check(payload, { ...TEST_FACTS })).toMatchObject([{ error: { code: 'STEMS_TEMPLATE_MISSING_VAR' } }]);
  });
});
