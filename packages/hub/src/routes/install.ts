import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { encodePublicKey, errnoCode, StemsError } from '@stems/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/**
 * The one-line node install: GET /install.sh and GET /agent/stems-agent.mjs.
 * Both are public: the script carries only public data (the hub URL, its
 * public key and the bundle's sha256, which the script pins), and the join
 * token passed to it is what lets a node in.
 */

/** In a checkout, relative to this module (src/routes or dist/routes of packages/hub). */
const checkout = (path: string) => fileURLToPath(new URL(`../../../../${path}`, import.meta.url));

/** Where the hub looks for the agent bundle by default: the agent package's build output. */
export const DEFAULT_AGENT_BUNDLE = checkout('packages/agent/dist/stems-agent.mjs');
const INSTALL_TEMPLATE = checkout('systemd/install-agent.sh');
const AGENT_UNIT = checkout('systemd/stems-agent.service');

export interface InstallRoutesOptions {
  /** The agent bundle to serve. @default DEFAULT_AGENT_BUNDLE */
  agentBundlePath?: string | undefined;
}

/** A Host header fit to paste into a shell script: host name or [v6] address, optional port. */
const HOST = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

async function readOrExplain(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
    throw new StemsError('STEMS_INSTALL_UNAVAILABLE', `The hub has no ${what} at ${path}`, {
      hint: 'Build the agent bundle in the hub checkout (`pnpm build`, or `pnpm --filter @stems/agent bundle`), or point STEMS_AGENT_BUNDLE at it.',
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
export function renderInstallScript(template: string, values: { hubUrl: string; hubKey: string; sha256: string; unit: string }): string {
  for (const [name, value] of Object.entries({ hubUrl: values.hubUrl, hubKey: values.hubKey, sha256: values.sha256 })) {
    if (/['\n\\]/.test(value)) throw new Error(`install.sh: ${name} is not shell-safe`);
  }
  if (/^STEMS_UNIT_EOF$/m.test(values.unit)) throw new Error('install.sh: the unit contains the heredoc terminator');
  // Functions as replacements: a `$` in a value must stay literal.
  return template
    .replace("'@@STEMS_HUB_URL@@'", () => `'${values.hubUrl}'`)
    .replace("'@@STEMS_HUB_KEY@@'", () => `'${values.hubKey}'`)
    .replace("'@@STEMS_AGENT_SHA256@@'", () => `'${values.sha256}'`)
    .replace('@@STEMS_AGENT_UNIT@@', () => values.unit.trimEnd());
}

export async function installRoutes(app: FastifyInstance, opts: InstallRoutesOptions): Promise<void> {
  const bundlePath = opts.agentBundlePath ?? DEFAULT_AGENT_BUNDLE;

  app.get('/install.sh', { config: { access: 'public' } }, async (request, reply) => {
    const hubUrl = hubUrlOf(request);
    const [template, unit, bundle] = await Promise.all([
      readOrExplain(INSTALL_TEMPLATE, 'install script template'),
      readOrExplain(AGENT_UNIT, 'agent unit file'),
      readOrExplain(bundlePath, 'agent bundle'),
    ]);
    // Hashed on every request (about 5 ms): a rebuilt bundle is never served with a stale hash.
    const script = renderInstallScript(template.toString('utf8'), {
      hubUrl,
      hubKey: encodePublicKey(app.hub.key.publicKey),
      sha256: createHash('sha256').update(bundle).digest('hex'),
      unit: unit.toString('utf8'),
    });
    return reply.type('text/x-shellscript; charset=utf-8').header('cache-control', 'no-store').send(script);
  });

  app.get('/agent/stems-agent.mjs', { config: { access: 'public' } }, async (_request, reply) => {
    const bundle = await readOrExplain(bundlePath, 'agent bundle');
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-store').send(bundle);
  });
}
