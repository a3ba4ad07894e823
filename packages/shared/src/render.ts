import type { BundlePayload } from './bundle.js';
import type { Facts } from './facts.js';
import type { Vars } from './fields.js';
import type { Body } from './resources.js';
import { type CompiledTemplate, compileTemplate, evaluateCondition, type TemplateContext } from './template.js';

/** What rendering needs from a bundle payload (the hub's preview builds the same shape). */
export type RenderSource = Pick<BundlePayload, 'cluster' | 'node' | 'groups' | 'vars' | 'files'>;

// Many resources share one template (1000 files from one .hbs): compile once.
const compiled = new Map<string, CompiledTemplate>();
const MAX_CACHED_TEMPLATES = 2000;

/** The raw bytes of a bundle file. */
export function fileBytes(source: RenderSource, sha256: string): Buffer {
  const file = source.files[sha256];
  if (!file) throw new RangeError(`bundle has no file ${sha256}`);
  return Buffer.from(file.data, file.encoding === 'utf8' ? 'utf8' : 'base64');
}

export function templateContext(source: RenderSource, facts: Facts | null, extraVars?: Vars): TemplateContext {
  return {
    vars: extraVars ? { ...source.vars, ...extraVars } : source.vars,
    node: { name: source.node, groups: source.groups },
    facts: facts as Record<string, unknown> | null,
    cluster: source.cluster,
  };
}

/**
 * The exact bytes a file or unit resource should have on the node: static
 * files verbatim, templates rendered with the node's facts. Throws a
 * StemsError (STEMS_TEMPLATE_*) when a template cannot render.
 */
export function renderBody(source: RenderSource, resource: { body: Body; vars?: Vars }, facts: Facts | null): Buffer {
  const { body } = resource;
  if (!body.render) return fileBytes(source, body.sha256);
  let template = compiled.get(body.sha256);
  if (!template) {
    if (compiled.size >= MAX_CACHED_TEMPLATES) compiled.clear();
    template = compileTemplate(fileBytes(source, body.sha256).toString('utf8'), body.name);
    compiled.set(body.sha256, template);
  }
  return Buffer.from(template.render(templateContext(source, facts, resource.vars)), 'utf8');
}

/** Whether a resource's `when:` holds on this node (no condition: it does). */
export function resourceApplies(source: RenderSource, resource: { id: string; when?: string | undefined }, facts: Facts | null): boolean {
  if (resource.when === undefined) return true;
  return evaluateCondition(resource.when, `${resource.id} (when)`, templateContext(source, facts));
}
