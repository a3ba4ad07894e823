/**
 * Bundles the agent into ONE self-contained ESM file, dist/stems-agent.mjs,
 * that runs with nothing but `node` (no node_modules): this is what the hub
 * serves at /agent/stems-agent.mjs and what nodes install to
 * /opt/stems/agent/stems-agent.mjs. The code is bundled as CommonJS and
 * appended in a block comment to a small ESM loader (scripts/bundle-loader.ts)
 * that reads it back and keeps a V8 code cache. Writes dist/stems-agent.mjs.sha256 next to it
 * (`sha256sum -c` format). Run: `pnpm --filter @stems/agent bundle`.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync } from 'node:zlib';
import { build, type Plugin } from 'esbuild';
import { cliBundleOptions, packageVersion, writeBundle } from '../../shared/scripts/bundle-helpers.js';

const pkgDir = fileURLToPath(new URL('../', import.meta.url));
const outFile = `${pkgDir}dist/stems-agent.mjs`;
const version = packageVersion(pkgDir);

/**
 * Big dependencies only the daemon or a facts refresh use (systeminformation,
 * ws) are embedded as text and compiled on first import: V8 scans a string
 * literal far faster than it pre-parses code, and one-shot commands such as
 * `apply --once` never import them. Each becomes a CommonJS function body.
 * systeminformation (430 KB) is also brotli-compressed (base64, 115 KB): only
 * a facts refresh imports it, once an hour in a child process, and every
 * other start of the agent reads and scans a file a fifth smaller. ws stays
 * plain: the daemon imports it at once, and zlib would cost it memory.
 */
const DEFERRED: Record<string, { named: string[]; compressed: boolean }> = {
  systeminformation: { named: [], compressed: true },
  ws: { named: ['WebSocket', 'WebSocketServer'], compressed: false },
};
const deferred: Plugin = {
  name: 'deferred-compile',
  setup(b) {
    b.onResolve({ filter: /^(systeminformation|ws)$/ }, (args) =>
      args.namespace === 'deferred' ? undefined : { path: args.path, namespace: 'deferred' },
    );
    b.onLoad({ filter: /.*/, namespace: 'deferred' }, async (args) => {
      const built = await build({
        entryPoints: [createRequire(pkgDir).resolve(args.path)],
        bundle: true,
        platform: 'node',
        target: 'node20',
        format: 'cjs',
        minifyWhitespace: true,
        minifySyntax: true,
        legalComments: 'none',
        write: false,
        external: ['bufferutil', 'utf-8-validate'],
        logLevel: 'warning',
      });
      const code = built.outputFiles[0]?.text ?? '';
      const { named, compressed } = DEFERRED[args.path] ?? { named: [], compressed: false };
      const source = compressed
        ? `brotliDecompressSync(Buffer.from(${JSON.stringify(brotliCompressSync(code).toString('base64'))}, 'base64')).toString()`
        : JSON.stringify(code);
      return {
        contents: [
          "import { compileFunction } from 'node:vm';",
          compressed ? "import { brotliDecompressSync } from 'node:zlib';" : '',
          `const mod = { exports: {} };`,
          `compileFunction(${source}, ['module', 'exports', 'require'], { filename: ${JSON.stringify(`stems-agent.mjs/${args.path}`)} })(mod, mod.exports, require);`,
          'export default mod.exports;',
          ...named.map((n) => `export const ${n} = mod.exports.${n};`),
        ].join('\n'),
        loader: 'js',
      };
    });
  },
};

const started = Date.now();
const code = await build({
  ...cliBundleOptions(pkgDir, 'agentVersion', [deferred]),
  // CommonJS, so the loader can compile it with vm.Script and a code cache.
  format: 'cjs',
  // ws loads these native speed-ups inside try/catch and works without them.
  external: ['bufferutil', 'utf-8-validate'],
});
const cjs = code.outputFiles[0]?.text;
if (cjs === undefined) throw new Error('esbuild produced no code');
const codeText = `(function (exports, require, module, __filename, __dirname) {${cjs}\n})`;
// The comment ends at the first `*/`: the code's own are written `\0/`, and the
// loader turns every NUL back into `*`, so the code must hold no NUL itself. The
// loader also reads it as Latin-1, a plain copy, so it must be ASCII. esbuild
// writes both kinds of character in strings as escapes (its default charset).
const ascii = Buffer.byteLength(codeText) === codeText.length;
if (!ascii || codeText.includes('\0'))
  throw new Error('the agent code holds a NUL or a non-ASCII character: the loader cannot read it back');
const commented = `\n/*${codeText.replaceAll('*/', '\0/')}*/\n`;
const result = await build({
  entryPoints: [`${pkgDir}scripts/bundle-loader.ts`],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  write: false,
  outfile: outFile,
  define: {
    STEMS_CODE_BYTES: String(commented.length - '\n/*'.length - '*/\n'.length),
    STEMS_DIGEST: JSON.stringify(createHash('sha256').update(codeText).digest('hex')),
  },
  banner: { js: ['#!/usr/bin/env node', `// stems-agent ${version}: one self-contained file, run with Node.js >= 20.`].join('\n') },
  logLevel: 'warning',
});
const file = result.outputFiles[0];
if (!file) throw new Error('esbuild produced no output');
// The loader finds the code by the first line that starts the comment: its own text must not hold one.
if (Buffer.from(file.contents).includes('\n/*(function (')) throw new Error('the loader holds the line that marks the code');
await writeBundle(outFile, Buffer.concat([file.contents, Buffer.from(commented)]), started);
