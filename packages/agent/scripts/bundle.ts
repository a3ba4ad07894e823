/**
 * Bundles the agent into ONE self-contained ESM file, dist/stems-agent.mjs,
 * that runs with nothing but `node` (no node_modules): this is what the hub
 * serves at /agent/stems-agent.mjs and what nodes install to
 * /opt/stems/agent/stems-agent.mjs. Writes dist/stems-agent.mjs.sha256 next
 * to it (`sha256sum -c` format). Run: `pnpm --filter @stems/agent bundle`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { writeFileAtomic } from '../../shared/src/fs-atomic.js';

const pkgDir = fileURLToPath(new URL('../', import.meta.url));
const outFile = `${pkgDir}dist/stems-agent.mjs`;
const pkg: unknown = JSON.parse(await readFile(`${pkgDir}package.json`, 'utf8'));
const version = typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : '0.0.0';

/**
 * cli/version.ts reads ../../package.json next to itself, which does not exist
 * beside an installed bundle: the bundle gets the version baked in instead.
 */
const bakedVersion: Plugin = {
  name: 'baked-version',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]cli[\\/]version\.ts$/ }, () => ({
      contents: `export function agentVersion() { return ${JSON.stringify(version)}; }`,
      loader: 'ts',
    }));
  },
};

const started = Date.now();
const result = await build({
  entryPoints: [`${pkgDir}src/cli/main.ts`],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: true,
  // Named for stack traces a user may paste into a bug report.
  keepNames: true,
  legalComments: 'none',
  write: false,
  outfile: outFile,
  // The workspace package from source, so the bundle never lags a stale dist.
  alias: { '@stems/shared': `${pkgDir}../shared/src/index.ts` },
  // ws loads these native speed-ups inside try/catch and works without them.
  external: ['bufferutil', 'utf-8-validate'],
  plugins: [bakedVersion],
  // CommonJS dependencies (systeminformation, pino, handlebars…) call require()
  // at run time; an ESM file has none, so give it one.
  banner: {
    js: [
      '#!/usr/bin/env node',
      `// stems-agent ${version}: one self-contained file, run with Node.js >= 20.`,
      "import { createRequire as __stemsCreateRequire } from 'node:module';",
      'const require = __stemsCreateRequire(import.meta.url);',
    ].join('\n'),
  },
  logLevel: 'warning',
});
const file = result.outputFiles[0];
if (!file) throw new Error('esbuild produced no output');
const digest = createHash('sha256').update(file.contents).digest('hex');
await writeFileAtomic(outFile, file.contents, { mode: 0o755, mkdirs: true });
await writeFileAtomic(`${outFile}.sha256`, `${digest}  stems-agent.mjs\n`, { mode: 0o644 });
process.stdout.write(
  `wrote ${outFile} (${(file.contents.length / 1024).toFixed(0)} KiB, sha256 ${digest}) in ${Date.now() - started} ms\n`,
);
