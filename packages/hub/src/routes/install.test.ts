import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePublicKey } from '@stems/shared';
import Fastify from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
import { testHub } from '../_test-hub.js';
import { authPlugin } from '../plugins/auth.js';
import { errorsPlugin } from '../plugins/errors.js';
import { installRoutes, renderInstallScript } from './install.js';

/** The install routes over a real hub core, serving `bundle` and the hub client `client` (each a missing file when null). */
async function installApp(bundle: string | null, client: string | null = '#!/usr/bin/env node\nconsole.log("hub")\n') {
  const hub = await testHub();
  await hub.app.ready();
  const dir = mkdtempSync(join(tmpdir(), 'stems-install-'));
  const bundlePath = join(dir, 'stems-agent.mjs');
  const clientPath = join(dir, 'hub.mjs');
  if (bundle !== null) writeFileSync(bundlePath, bundle);
  if (client !== null) writeFileSync(clientPath, client);
  const app = Fastify();
  app.decorate('hub', hub.app.hub);
  await app.register(errorsPlugin);
  await app.register(authPlugin);
  await app.register(installRoutes, { agentBundlePath: bundlePath, clientBundlePath: clientPath });
  onTestFinished(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, key: hub.key };
}

const sha256 = (text: string | Buffer) => createHash('sha256').update(text).digest('hex');

describe('install routes', () => {
  it('serves install.sh without auth, with the hub URL it was fetched from, the hub key and both bundle hashes', async () => {
    const bundle = '#!/usr/bin/env node\nconsole.log("agent")\n';
    const client = '#!/usr/bin/env node\nconsole.log("hub client")\n';
    const { app, key } = await installApp(bundle, client);
    const res = await app.inject({ method: 'GET', url: '/install.sh', headers: { host: 'hub.lan:7400' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/shellscript/);
    const script = res.body;
    expect(script).toContain("STEMS_HUB_URL='http://hub.lan:7400'\n");
    expect(script).toContain(`STEMS_HUB_KEY='${encodePublicKey(key.publicKey)}'\n`);
    expect(script).toContain(`STEMS_AGENT_SHA256='${sha256(bundle)}'\n`);
    expect(script).toContain(`STEMS_CLIENT_SHA256='${sha256(client)}'\n`);
    // nodes get the read-only `hub` next to the agent, and the uninstall removes it
    expect(script).toContain('HUB_CLIENT=/usr/local/bin/hub');
    expect(script).toMatch(/uninstall\(\) \{[\s\S]*\$HUB_CLIENT[\s\S]*\n\}/);
    // the unit goes in whole, and nothing is left unfilled
    expect(script).toContain('ExecStart=/usr/local/bin/stems-agent run');
    expect(script).not.toMatch(/@@STEMS_/);
    const dir = mkdtempSync(join(tmpdir(), 'stems-install-sh-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'install.sh'), script);
    execFileSync('sh', ['-n', join(dir, 'install.sh')]); // throws on a syntax error
    // The served script answers --help without root, systemd or network.
    expect(execFileSync('sh', [join(dir, 'install.sh'), '--help'], { encoding: 'utf8' })).toContain('--token T');
    // `curl | sh` cut short mid-download: sh must run none of it, not even --help
    const cut = spawnSync('sh', ['-s', '--', '--help'], { input: script.slice(0, script.indexOf('\nuninstall() {')), encoding: 'utf8' });
    expect(cut.status).not.toBe(0);
    expect(cut.stdout).toBe('');
  });

  it('serves the agent bundle and the hub client byte for byte, without auth', async () => {
    const bundle = `// agent ${'x'.repeat(100_000)}\n`;
    const client = `// hub ${'y'.repeat(50_000)}\n`;
    const { app } = await installApp(bundle, client);
    for (const [url, body] of [
      ['/agent/stems-agent.mjs', bundle],
      ['/agent/hub.mjs', client],
    ]) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(sha256(res.rawPayload), url).toBe(sha256(body ?? ''));
    }
  });

  it('says what to do when a bundle has not been built (503 STEMS_INSTALL_UNAVAILABLE)', async () => {
    const cases = [
      { missing: 'agent', app: (await installApp(null)).app, urls: ['/install.sh', '/agent/stems-agent.mjs'] },
      { missing: 'hub client', app: (await installApp('agent', null)).app, urls: ['/install.sh', '/agent/hub.mjs'] },
    ];
    for (const { missing, app, urls } of cases) {
      for (const url of urls) {
        const res = await app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(503);
        expect(res.json().error.code).toBe('STEMS_INSTALL_UNAVAILABLE');
        expect(res.json().error.message).toContain(`${missing} bundle`);
        expect(res.json().error.hint).toMatch(/pnpm build/);
      }
    }
  });

  it('refuses a Host header that is not a plain host, so nothing odd reaches the script', async () => {
    const { app } = await installApp('bundle');
    const res = await app.inject({ method: 'GET', url: '/install.sh', headers: { host: "x';reboot;'" } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('STEMS_REQUEST_INVALID');
  });

  it('keeps `$` in values literal and refuses values that could leave the quotes', () => {
    const template = readFileSync(new URL('../../../../systemd/install-agent.sh', import.meta.url), 'utf8');
    const values = { hubUrl: 'http://h:1', hubKey: 'ed25519:a$&b', sha256: 'ab', clientSha256: 'cd', unit: '[Unit]\n' };
    expect(renderInstallScript(template, values)).toContain("STEMS_HUB_KEY='ed25519:a$&b'");
    expect(() => renderInstallScript(template, { ...values, hubUrl: "http://h'" })).toThrow(/shell-safe/);
    expect(() => renderInstallScript(template, { ...values, clientSha256: 'c\nd' })).toThrow(/shell-safe/);
    expect(() => renderInstallScript(template, { ...values, unit: 'STEMS_UNIT_EOF\n' })).toThrow(/terminator/);
  });

  it('is registered on the hub as a public route', async () => {
    const { app } = await testHub();
    const res = await app.inject({ method: 'GET', url: '/install.sh' });
    // 200 with a built agent bundle, 503 without one: never 401/403/404
    expect([200, 503]).toContain(res.statusCode);
  });
});
