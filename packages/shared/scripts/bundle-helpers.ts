/**
 * What the two single-file bundles (the agent, packages/agent/scripts/bundle.ts;
 * the node client `hub`, packages/hub/scripts/bundle.ts) build the same way.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname } from 'node:path';
import type { BuildOptions, Plugin } from 'esbuild';
import { writeFileAtomic } from '../src/fs-atomic.js';

/**
 * The options both bundles of the CLI `main.ts` of the package at `pkgDir`
 * share, with the version baked in as `export function <versionFn>()` and
 * `plugins` after the shared ones; each bundle adds its format.
 */
export function cliBundleOptions(pkgDir: string, versionFn: string, plugins: Plugin[]): BuildOptions & { write: false } {
  return {
    entryPoints: [`${pkgDir}src/cli/main.ts`],
    bundle: true,
    platform: 'node',
    target: 'node20',
    // Identifiers stay as written, for stack traces a user may paste into a bug
    // report; that costs nothing at run time, unlike keepNames (a __name()
    // call per function and class at every start).
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    write: false,
    // The workspace package from source, so the bundle never lags a stale dist.
    alias: { '@stems/shared': `${pkgDir}../shared/src/index.ts` },
    logLevel: 'warning',
    plugins: [bakedVersion(pkgDir, versionFn), zodEnglishOnly(pkgDir), withoutSourceMap, ...plugins],
  };
}

/** The `version` of the package at `pkgDir` (a directory path ending in /). */
export function packageVersion(pkgDir: string): string {
  const pkg: unknown = JSON.parse(readFileSync(`${pkgDir}package.json`, 'utf8'));
  return typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/**
 * src/cli/version.ts reads ../../package.json next to itself, which does not
 * exist beside an installed bundle: the bundle gets the version of the package
 * at `pkgDir` baked in instead, as `export function <fn>()`.
 */
function bakedVersion(pkgDir: string, fn: string): Plugin {
  const version = packageVersion(pkgDir);
  return {
    name: 'baked-version',
    setup(b) {
      b.onLoad({ filter: /[\\/]src[\\/]cli[\\/]version\.ts$/ }, () => ({
        contents: `export function ${fn}() { return ${JSON.stringify(version)}; }`,
        loader: 'ts',
      }));
    },
  };
}

/**
 * zod re-exports every translation of its messages (`z.locales`, a fifth of
 * a bundle) and the bundle would parse and initialise all of them at each
 * start; stems only ever uses English, which zod configures from locales/en.js
 * directly. The namespace becomes English only. `pkgDir` is the package whose
 * zod is bundled.
 */
function zodEnglishOnly(pkgDir: string): Plugin {
  const zodDir = dirname(dirname(createRequire(pkgDir).resolve('zod/v4/core')));
  return {
    name: 'zod-english-only',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
        args.resolveDir.startsWith(zodDir) ? { path: `${zodDir}/locales/index.js`, namespace: 'zod-english-only' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'zod-english-only' }, () => ({
        contents: `export { default as en } from ${JSON.stringify(`${zodDir}/locales/en.js`)};`,
        loader: 'js',
        resolveDir: `${zodDir}/locales`,
      }));
    },
  };
}

/**
 * Leaves out `source-map`, which handlebars' code generator requires inside a
 * try/catch only to attach source maps to compiled templates (stems never asks
 * for them); without it handlebars uses its own string-building stand-in.
 * 42 KB less code to read at every start, and templates compile a little
 * faster (bench/RESULTS.md).
 */
const withoutSourceMap: Plugin = {
  name: 'without-source-map',
  setup(b) {
    b.onResolve({ filter: /^source-map$/ }, () => ({ path: 'source-map', namespace: 'left-out' }));
    b.onLoad({ filter: /.*/, namespace: 'left-out' }, () => ({
      contents: "throw new Error('source-map is left out of the stems bundles');",
      loader: 'js',
    }));
  },
};

/**
 * Writes an executable bundle and, next to it, `<file>.sha256` in
 * `sha256sum -c` format (the hash install.sh pins), then says so on stdout.
 */
export async function writeBundle(outFile: string, contents: Uint8Array, started: number): Promise<void> {
  const digest = createHash('sha256').update(contents).digest('hex');
  await writeFileAtomic(outFile, contents, { mode: 0o755, mkdirs: true });
  await writeFileAtomic(`${outFile}.sha256`, `${digest}  ${basename(outFile)}\n`, { mode: 0o644 });
  process.stdout.write(`wrote ${outFile} (${(contents.length / 1024).toFixed(0)} KiB, sha256 ${digest}) in ${Date.now() - started} ms\n`);
}
