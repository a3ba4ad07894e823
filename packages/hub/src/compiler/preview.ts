import { type Facts, isStemsError, renderBody, resourceApplies } from '@stems/shared';
import { conditionUsesFacts, templateUsesFacts } from './facts-refs.js';
import type { NodeBuild } from './node-compile.js';
import { at, type ProblemSet } from './problems.js';
import type { RoleResource } from './role-compile.js';
import { templateErrorPosition, templateErrorText } from './template-position.js';

function whenPosition(entry: RoleResource) {
  const own = (entry.role.spec.resources ?? [])[entry.index]?.when;
  return own === undefined ? at(entry.role.yaml, ['when']) : at(entry.role.yaml, ['resources', entry.index, 'when']);
}

/**
 * Renders every template of a node the way its agent will, with the node's
 * last known facts (strict: a missing variable is an error). With no facts
 * yet, what needs them cannot be rendered: those resource ids are returned
 * as waiting, and everything else must still render.
 */
export function previewNode(build: NodeBuild, facts: Facts | null, problems: ProblemSet): string[] {
  const { desired, entries } = build;
  const node = desired.node;
  const waiting: string[] = [];
  for (const [i, resource] of desired.resources.entries()) {
    const entry = entries[i] as RoleResource;
    if (entry.broken) continue;
    if (resource.when !== undefined) {
      if (facts === null && conditionUsesFacts(resource.when)) {
        waiting.push(resource.id);
        continue;
      }
      try {
        if (!resourceApplies(desired, resource, facts)) continue;
      } catch (err) {
        if (!isStemsError(err)) throw err;
        problems.add(err.code, whenPosition(entry), `when: ${templateErrorText(err)}`, node);
        continue;
      }
    }
    const template = entry.template;
    if (resource.type !== 'file' && resource.type !== 'unit') continue;
    const body = resource.body;
    if (!body?.render || !template) continue;
    if (facts === null && templateUsesFacts(template.text)) {
      waiting.push(resource.id);
      continue;
    }
    try {
      renderBody(desired, { body, ...(resource.vars ? { vars: resource.vars } : {}) }, facts);
    } catch (err) {
      if (!isStemsError(err)) throw err;
      const inner = templateErrorPosition(err, template.text);
      const text = templateErrorText(err);
      if (template.asset) {
        problems.add(err.code, { file: template.asset, line: inner?.line ?? 1, col: inner?.col ?? 1 }, text, node);
      } else {
        const where = inner ? `content (line ${inner.line}, col ${inner.col})` : 'content';
        problems.add(err.code, entry.pos, `${where}: ${text}`, node);
      }
    }
  }
  return waiting;
}
