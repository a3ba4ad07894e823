import { describe, expect, it, onTestFinished } from 'vitest';
import { payloadBuilder, resource, silentLog, TEST_FACTS, tempRoot } from '../engine/_test-payload.js';
import { applyBundle, planBundle } from '../engine/index.js';
import { FakeSystemd } from '../system/_fake-systemd.js';

const engine = (root: string) => ({ root, facts: TEST_FACTS, systemd: new FakeSystemd(), log: silentLog, factsHash: 'f' });
const pkg = (name: string, state: 'present' | 'absent') => resource('package', { id: `package:${name}`, name, state });

describe('package resource', () => {
  // Planning only: it reads the real dpkg database and installs nothing.
  it('reads the state from dpkg-query on the real root', async () => {
    const payload = payloadBuilder().payload([
      pkg('dpkg', 'present'),
      pkg('stems-no-such-pkg', 'absent'),
      pkg('stems-no-such-pkg2', 'present'),
      pkg('dpkg', 'absent'),
    ]);
    const plan = await planBundle(payload, engine('/'));
    expect(plan.map((p) => [p.id, p.action, p.changes])).toEqual([
      ['package:stems-no-such-pkg2', 'install', ['installed']],
      ['package:dpkg', 'remove', ['removed']],
    ]);
  });

  it('refuses under a root prefix with STEMS_APPLY_PACKAGE_FAILED', async () => {
    const root = await tempRoot(onTestFinished);
    const payload = payloadBuilder().payload([pkg('dpkg', 'present')]);
    expect((await planBundle(payload, engine(root)))[0]?.error?.code).toBe('STEMS_APPLY_PACKAGE_FAILED');
    const report = await applyBundle(payload, engine(root));
    expect(report.resources[0]?.error).toMatchObject({
      code: 'STEMS_APPLY_PACKAGE_FAILED',
      message: expect.stringContaining('root prefix'),
    });
  });
});
