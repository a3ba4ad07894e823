import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { encodePublicKey, errnoCode, StemsError } from '@stems/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * The one-line node install: GET /install.sh, GET /agent/stems-agent.mjs (the
 * agent) and GET /agent/hub.mjs (the read-only `hub` client nodes get). All
 * are public: the script carries only public data (the hub URL, its public key
 * and both bundles' sha256, which the script pins), and the join token passed
 * to it is what lets a node in.
 */

/** In a checkout, relative to this module (src/routes or dist/routes of packages/hub). */
const checkout = (path: string) => fileURLToPath(new URL(`../../../../${path}`, import.meta.url));

/** Where the hub looks for the agent bundle by default: the agent package's build output. */
export const DEFAULT_AGENT_BUNDLE = checkout('packages/agent/dist/stems-agent.mjs');
/** The node client `hub` (packages/hub/scripts/bundle.ts): this package's build output. */
export const DEFAULT_CLIENT_BUNDLE = checkout('packages/hub/dist/hub.mjs');
const INSTALL_TEMPLATE = checkout('systemd/install-agent.sh');
const AGENT_UNIT = checkout('systemd/stems-agent.service');

export interface InstallRoutesOptions {
  /** The agent bundle to serve. @default DEFAULT_AGENT_BUNDLE */
  agentBundlePath?: string | undefined;
  /** The node client bundle to serve. @default DEFAULT_CLIENT_BUNDLE */
  clientBundlePath?: string | undefined;
}

/** A Host header fit to paste into a shell script: host name or [v6] address, optional port. */
const HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

async function readOrExplain(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    throw new StemsError('STEMS_INSTALL_UNAVAILABLE', `The hub has no ${what} at ${path}`, {
      hint: 'Build the bundles in the hub checkout (`pnpm build`, or `pnpm --filter @stems/agent bundle` and `pnpm --filter @stems/hub bundle`); STEMS_AGENT_BUNDLE may point at another agent bundle.',
      statusCode: 503,
    });
  }
}

/** The URL nodes reach this hub at: the one the script itself was fetched from. */
function hubUrlOf(request: FastifyRequest): string {
  const host = request.host;
  if (!HOST.test(host)) {
    throw new StemsError('STEMS_REQUEST_INVALID', `Host header ${JSON.stringify(host)} is not a host name or address`, {
      hint: 'Fetch the script by the hub address the node uses, e.g. curl -fsSL http://hub:7400/install.sh',
      statusCode: 400,
    });
  }
  return `${request.protocol}://${host}`;
}

/** Fills the template's placeholders; every value was checked to be shell-safe inside single quotes. */
export function renderInstallScript(
  template: string,
  values: { hubUrl: string; hubKey: string; sha256: string; clientSha256: string; unit: string },
): string {
  const { unit, ...quoted } = values;
  for (const [name, value] of Object.entries(quoted)) {
    if (/['\n\\]/.test(value)) throw new Error(`install.sh: ${name} is not shell-safe`);
  }
  if (/^STEMS_UNIT_EOF$/m.test(unit)) throw new Error('install.sh: the unit contains the heredoc terminator');
  // Functions as replacements: a `$` in a value must stay literal.
  return template
    .replace("'@@STEMS_HUB_URL@@'", () => `'${values.hubUrl}'`)
    .replace("'@@STEMS_HUB_KEY@@'", () => `'${values.hubKey}'`)
    .replace("'@@STEMS_AGENT_SHA256@@'", () => `'${values.sha256}'`)
    .replace("'@@STEMS_CLIENT_SHA256@@'", () => `'${values.clientSha256}'`)
    .replace('@@STEMS_AGENT_UNIT@@', () => unit.trimEnd());
}

export async function installRoutes(app: FastifyInstance, opts: InstallRoutesOptions): Promise<void> {
  const bundlePath = opts.agentBundlePath ?? DEFAULT_AGENT_BUNDLE;
  const clientPath = opts.clientBundlePath ?? DEFAULT_CLIENT_BUNDLE;
  const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

  app.get('/install.sh', { config: { access: 'public' } }, async (request, reply) => {
    const hubUrl = hubUrlOf(request);
    const [template, unit, bundle, client] = await Promise.all([
      readOrExplain(INSTALL_TEMPLATE, 'install script template'),
      readOrExplain(AGENT_UNIT, 'agent unit file'),
      readOrExplain(bundlePath, 'agent bundle'),
      readOrExplain(clientPath, 'hub client bundle'),
    ]);
    // Hashed on every request (about 5 ms): a rebuilt bundle is never served with a stale hash.
    const script = renderInstallScript(template.toString('utf8'), {
      hubUrl,
      hubKey: encodePublicKey(app.hub.key.publicKey),
      sha256: sha256(bundle),
      clientSha256: sha256(client),
      unit: unit.toString('utf8'),
    });
    return reply.type('text/x-shellscript; charset=utf-8').header('cache-control', 'no-store').send(script);
  });

  for (const [url, path, what] of [
    ['/agent/stems-agent.mjs', bundlePath, 'agent bundle'],
    ['/agent/hub.mjs', clientPath, 'hub client bundle'],
  ] as const) {
    app.get(url, { config: { access: 'public' } }, async (_request, reply) => {
      const bytes = await readOrExplain(path, what);
      return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-store').send(bytes);
    });
  }
}
