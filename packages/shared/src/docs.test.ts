import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderErrorsDoc } from './_errors-doc.js';
import { clusterJsonSchema, renderJsonSchemas, roleJsonSchema } from './_json-schema.js';
import { ERROR_CODES } from './errors.js';
import { TEMPLATE_HELPERS } from './template.js';

const root = new URL('../../../', import.meta.url);
const REGENERATE = 'out of date: run `pnpm docs:errors` and commit the result';

async function committed(path: string): Promise<string> {
  return readFile(new URL(path, root), 'utf8').catch(() => `(missing ${path})`);
}

describe('generated docs', () => {
  it(`docs/errors.md matches ERROR_CODES (${REGENERATE})`, async () => {
    expect(await committed('docs/errors.md'), `docs/errors.md is ${REGENERATE}`).toBe(renderErrorsDoc());
  });

  it('lists every code exactly once', () => {
    const doc = renderErrorsDoc();
    for (const code of Object.keys(ERROR_CODES)) expect(doc.split(`| \`${code}\` |`).length, code).toBe(2);
  });

  it.each(Object.keys(renderJsonSchemas()))(`%s matches the zod schema (${REGENERATE})`, async (path) => {
    // compared as data: biome may reformat the committed JSON
    const text = await committed(path);
    expect(text.startsWith('{'), `${path} is ${REGENERATE}`).toBe(true);
    expect(JSON.parse(text), `${path} is ${REGENERATE}`).toEqual(JSON.parse(renderJsonSchemas()[path] ?? ''));
  });

  it('describes resources as the per-type schemas', () => {
    const role = roleJsonSchema() as { properties: { resources: { items: { anyOf: { required: string[] }[] } } } };
    const required = role.properties.resources.items.anyOf.map((s) => s.required[0]);
    expect(required).toEqual(['file', 'directory', 'symlink', 'absent', 'unit', 'exec', 'package']);
    const cluster = clusterJsonSchema() as { required: string[]; additionalProperties: boolean };
    expect(cluster.required).toEqual(['apiVersion', 'cluster', 'nodes']);
    expect(cluster.additionalProperties).toBe(false);
  });

  it('docs/templates.md lists exactly the helpers in TEMPLATE_HELPERS', async () => {
    const doc = await committed('docs/templates.md');
    const section = doc.split(/^## Helpers$/m)[1]?.split(/^## /m)[0] ?? '';
    // First cell of each table row: one or more `name`s (e.g. `lt` `lte` `gt` `gte`).
    const documented = section
      .split('\n')
      .map((line) => /^\| ((?:`[a-z]+` ?)+) \|/.exec(line)?.[1])
      .flatMap((cell) => (cell ? [...cell.matchAll(/`([a-z]+)`/g)].map((m) => m[1]) : []));
    expect(documented.length, 'no helper table found under "## Helpers" in docs/templates.md').toBeGreaterThan(0);
    expect(new Set(documented).size, 'a helper is listed twice').toBe(documented.length);
    expect([...documented].sort()).toEqual([...TEMPLATE_HELPERS].sort());
  });
});
