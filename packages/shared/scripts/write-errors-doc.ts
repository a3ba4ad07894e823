/**
 * Writes docs/errors.md and docs/schema/*.json from the code: `pnpm docs:errors`.
 * The test in packages/shared/src/docs.test.ts fails when they are out of step.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderErrorsDoc } from '../src/_errors-doc.js';
import { renderJsonSchemas } from '../src/_json-schema.js';
import { writeFileAtomic } from '../src/fs-atomic.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const files: Record<string, string> = { 'docs/errors.md': renderErrorsDoc(), ...renderJsonSchemas() };
for (const [path, text] of Object.entries(files)) {
  await mkdir(dirname(root + path), { recursive: true, mode: 0o755 });
  await writeFileAtomic(root + path, text, { mode: 0o644 });
  process.stdout.write(`wrote ${path}\n`);
}
