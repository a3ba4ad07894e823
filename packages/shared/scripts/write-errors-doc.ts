/**
 * Writes docs/errors.md and docs/schema/*.json from the code: `pnpm docs:errors`.
 * The test in packages/shared/src/docs.test.ts fails when they are out of step.
 */
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderErrorsDoc } from '../src/_errors-doc.js';
import { renderJsonSchemas } from '../src/_json-schema.js';
import { writeFileAtomic } from '../src/fs-atomic.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const schemas = renderJsonSchemas();
const files: Record<string, string> = { 'docs/errors.md': renderErrorsDoc(), ...schemas };
for (const [path, text] of Object.entries(files)) {
  await mkdir(dirname(join(root, path)), { recursive: true, mode: 0o755 });
  await writeFileAtomic(join(root, path), text, { mode: 0o644 });
  process.stdout.write(`wrote ${path}\n`);
}
// Format the JSON as `biome check .` expects it, so lint stays clean.
execFileSync(join(root, 'node_modules/.bin/biome'), ['format', '--write', ...Object.keys(schemas)], { cwd: root, stdio: 'inherit' });
