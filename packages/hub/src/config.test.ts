import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HubConfig, parseHubConfig, readHubConfig, writeHubConfig } from './config.js';

describe('hub.yaml', () => {
  it('round-trips through write and read, with defaults filled and the file at 0600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stems-config-'));
    try {
      const config = HubConfig.parse({ repo: { url: 'https://git.example/x.git', auth: { username: 'u', password: 'p"w: #x' } } });
      await writeHubConfig(dir, config);
      expect((await stat(join(dir, 'hub.yaml'))).mode & 0o777).toBe(0o600);
      expect(await readHubConfig(dir)).toEqual({ ...config, listen: '127.0.0.1:7400', fetchIntervalSec: 60, bundleLifetimeSec: 604_800 });
      expect(await readFile(join(dir, 'hub.yaml'), 'utf8')).toContain('branch: "main"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names file, line and column of a bad value; a missing file says to run hub init', async () => {
    expect(() => parseHubConfig('repo:\n  url: x\nlisten: nowhere\n', '/d/hub.yaml')).toThrow(/\/d\/hub\.yaml:3:9: listen: host:port/);
    expect(() => parseHubConfig('repo: [\n', '/d/hub.yaml')).toThrow(expect.objectContaining({ code: 'STEMS_HUB_CONFIG' }));
    await expect(readHubConfig('/nonexistent-stems')).rejects.toMatchObject({
      code: 'STEMS_HUB_NOT_INITIALIZED',
      hint: expect.stringMatching(/hub init/),
    });
  });
});
