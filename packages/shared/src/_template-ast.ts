// `hbs` is the global AST namespace declared by handlebars' own types.
/** A construct templates may not use, with its 1-based position. */
export interface TemplateViolation {
  message: string;
  line: number;
  col: number;
}

type AnyNode = hbs.AST.Node & { [key: string]: unknown };

function isNode(value: unknown): value is AnyNode {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

function position(node: hbs.AST.Node): { line: number; col: number } {
  return { line: node.loc?.start.line ?? 1, col: (node.loc?.start.column ?? 0) + 1 };
}

function helperCall(node: AnyNode, helpers: ReadonlySet<string>): TemplateViolation | undefined {
  const call = node as unknown as hbs.AST.MustacheStatement;
  const takesArgs = call.params.length > 0 || call.hash !== undefined || node.type === 'SubExpression';
  if (!takesArgs || call.path.type !== 'PathExpression') return undefined;
  const path = call.path as hbs.AST.PathExpression;
  const name = path.original;
  if (!path.data && path.depth === 0 && path.parts.length === 1 && helpers.has(name)) return undefined;
  return { ...position(path), message: `unknown helper "${name}" (docs/templates.md lists the helpers)` };
}

/**
 * Finds what the one template environment refuses before anything renders:
 * partials and decorators (there are none to load, and they would be a way
 * to reach code) and calls of anything that is not one of our helpers.
 */
export function findViolations(program: hbs.AST.Program, helpers: ReadonlySet<string>): TemplateViolation[] {
  const found: TemplateViolation[] = [];
  const visit = (node: AnyNode) => {
    switch (node.type) {
      case 'PartialStatement':
      case 'PartialBlockStatement':
        found.push({ ...position(node), message: 'partials ({{> name}}) are not supported; put the text in the template' });
        return;
      case 'Decorator':
      case 'DecoratorBlock':
        found.push({ ...position(node), message: 'decorators ({{* name}}) are not supported' });
        return;
      case 'PathExpression': {
        // Handlebars' internal fallbacks: reachable by name, never meant for templates.
        const head = (node as unknown as hbs.AST.PathExpression).parts[0] ?? '';
        if (head === 'helperMissing' || head === 'blockHelperMissing') {
          found.push({ ...position(node), message: `"${head}" is a reserved name` });
        }
        return;
      }
      case 'MustacheStatement':
      case 'BlockStatement':
      case 'SubExpression': {
        const problem = helperCall(node, helpers);
        if (problem) found.push(problem);
        break;
      }
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) for (const item of value) if (isNode(item)) visit(item);
      if (isNode(value)) visit(value);
    }
  };
  if (isNode(program)) visit(program);
  return found;
}
