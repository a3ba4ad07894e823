import fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FakeSystemd } from '../system/_fake-systemd.js';
import { fileResource, payloadBuilder, silentLog, TEST_FACTS, tempRoot } from './_test-payload.js';
import { applyBundle, planBundle } from './index.js';
import { RenderedDigests } from './rendered.js';

const engine = (root: string, rendered?: RenderedDigests) => ({
  root,
  facts: TEST_FACTS,
  systemd: new FakeSystemd(),
  log: silentLog,
  factsHash: 'f',
  rendered,
});

/** The same resource id, once with a template that renders and once with one that cannot (a missing variable). */
function bundles() {
  const b = payloadBuilder();
  const good = b.payload([fileResource(b, '/etc/app.conf', 'host={{facts.hostname}}\n', { render: true })]);
  const broken = b.payload([fileResource(b, '/etc/app.conf', 'host={{vars.nope}}\n', { render: true })]);
  return { good, broken };
}

describe('RenderedDigests', () => {
  it('a known digest stands in for the render: no template runs while the bytes on disk match it', async () => {
    const root = await tempRoot(onTestFinished);
    const path = join(root, 'rendered.json');
    const { good, broken } = bundles();
    const first = await RenderedDigests.load(path, 'k1');
    expect((await applyBundle(good, engine(root, first))).status).toBe('changed');
    await first.save(path);
    expect(fs.statSync(path).mode & 0o777).toBe(0o600);

    // The broken template throws if it runs; with the digest known it does not run.
    const known = await RenderedDigests.load(path, 'k1');
    expect(await planBundle(broken, engine(root, known))).toEqual([]);
    expect((await applyBundle(broken, engine(root, known))).status).toBe('converged');
    // Without the digests, or under another key, it renders (and fails).
    const plain = await planBundle(broken, engine(root));
    expect(plain[0]?.error?.code).toBe('STEMS_TEMPLATE_MISSING_VAR');
    const other = await planBundle(broken, engine(root, await RenderedDigests.load(path, 'k2')));
    expect(other[0]?.error?.code).toBe('STEMS_TEMPLATE_MISSING_VAR');
  });

  it('bytes that differ from the digest are rendered and diffed as always', async () => {
    const root = await tempRoot(onTestFinished);
    const path = join(root, 'rendered.json');
    const { good } = bundles();
    const digests = await RenderedDigests.load(path, 'k1');
    await applyBundle(good, engine(root, digests));
    await digests.save(path);
    fs.writeFileSync(join(root, 'etc/app.conf'), 'host=edited\n');
    const plan = await planBundle(good, engine(root, await RenderedDigests.load(path, 'k1')));
    expect(plan).toMatchObject([{ id: 'file:/etc/app.conf', changes: ['content'] }]);
    expect(plan[0]?.diff).toContain('-host=edited\n+host=director');
    const repair = await applyBundle(good, engine(root, await RenderedDigests.load(path, 'k1')));
    expect(repair.resources[0]).toMatchObject({ outcome: 'changed', changes: ['content'] });
    expect(fs.readFileSync(join(root, 'etc/app.conf'), 'utf8')).toBe('host=director\n');
  });

  it('a corrupt record is an empty cache, not an error', async () => {
    const root = await tempRoot(onTestFinished);
    const path = join(root, 'rendered.json');
    fs.writeFileSync(path, '{"format":"stems.rendered/v1","key":"k1","files":{"file:/x":"not-a-digest"}}');
    const { broken } = bundles();
    const plan = await planBundle(broken, engine(root, await RenderedDigests.load(path, 'k1')));
    expect(plan[0]?.error?.code).toBe('STEMS_TEMPLATE_MISSING_VAR'); // nothing known: it renders
  });
});
