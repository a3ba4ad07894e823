/**
 * Bundles the hub CLI into ONE self-contained ESM file, dist/hub.mjs, the
 * `hub` command of nodes: the hub serves it at /agent/hub.mjs and install.sh
 * installs it as /usr/local/bin/hub, so that plain `hub status` on an enrolled
 * node reads the hub URL from the agent config and signs its requests with the
 * node key (read-only). It runs with nothing but `node`: what needs the hub's
 * data dir (SQLite store, compiler, server: src/cli/hub-host.ts) is left out,
 * and `hub serve`, `hub init` or a `--data` dir say they run on the hub host.
 * Writes dist/hub.mjs.sha256 next to it. Run: `pnpm --filter @stems/hub bundle`.
 */
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { cliBundleOptions, packageVersion, writeBundle } from '../../shared/scripts/bundle-helpers.js';

const pkgDir = fileURLToPath(new URL('../', import.meta.url));
const outFile = `${pkgDir}dist/hub.mjs`;

/** src/cli/hub-host.ts becomes a module that fails on import, with a STEMS_ code and what to do. */
const hubHostLeftOut: Plugin = {
  name: 'hub-host-left-out',
  setup(b) {
    b.onResolve({ filter: /[\\/]hub-host\.js$/ }, () => ({ path: 'hub-host', namespace: 'hub-host-left-out' }));
    b.onLoad({ filter: /.*/, namespace: 'hub-host-left-out' }, () => ({
      contents: `import { StemsError } from '@stems/shared';
throw new StemsError('STEMS_HUB_NOT_INITIALIZED', 'This command needs the hub data dir, so it runs on the hub host only: this hub command is the read-only client installed on nodes.', {
  hint: 'Run it on the hub host. From here, hub status, revisions, diff and nodes ask the hub over its API (signed with the node key, or --hub URL --token T).',
});`,
      loader: 'js',
      resolveDir: pkgDir,
    }));
  },
};

const started = Date.now();
const result = await build({
  ...cliBundleOptions(pkgDir, 'hubVersion', [hubHostLeftOut]),
  format: 'esm',
  outfile: outFile,
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
  banner: {
    js: [
      '#!/usr/bin/env node',
      `// hub ${packageVersion(pkgDir)}: the read-only client of a stems hub for nodes, one self-contained file, run with Node.js >= 20.`,
      "import { createRequire as __stemsRequire } from 'node:module'; const require = __stemsRequire(import.meta.url);",
    ].join('\n'),
  },
});
const file = result.outputFiles[0];
if (!file) throw new Error('esbuild produced no output');
await writeBundle(outFile, file.contents, started);
