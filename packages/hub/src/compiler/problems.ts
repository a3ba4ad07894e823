import type { ErrorCode, ParsedYaml, RepoProblem } from '@stems/shared';

/** Nodes named in one aggregated message before "and N more". */
const MAX_NAMED_NODES = 5;

export type Position = { file: string; line: number; col: number };

/** Where `path` sits in a parsed YAML file, as a problem position. */
export function at(yaml: ParsedYaml, path: readonly (string | number)[]): Position {
  return { file: yaml.file, ...yaml.locate(path) };
}

/**
 * Collects problems of one revision. One role serves many nodes, so the same
 * mistake would repeat per node: problems that differ only by node are merged
 * into one that names the nodes.
 */
export class ProblemSet {
  private readonly entries = new Map<string, { problem: RepoProblem; nodes: string[] }>();

  add(code: ErrorCode, pos: Position, message: string, node?: string): void {
    const key = `${code}\0${pos.file}\0${pos.line}\0${pos.col}\0${message}`;
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { problem: { code, ...pos, message }, nodes: [] };
      this.entries.set(key, entry);
    }
    if (node !== undefined && !entry.nodes.includes(node)) entry.nodes.push(node);
  }

  addAll(problems: readonly RepoProblem[]): void {
    for (const p of problems) this.add(p.code, p, p.message);
  }

  get size(): number {
    return this.entries.size;
  }

  list(): RepoProblem[] {
    return [...this.entries.values()].map(({ problem, nodes }) => {
      if (nodes.length === 0) return problem;
      const named = nodes.slice(0, MAX_NAMED_NODES).join(', ');
      const more = nodes.length > MAX_NAMED_NODES ? ` and ${nodes.length - MAX_NAMED_NODES} more` : '';
      return { ...problem, message: `${nodes.length === 1 ? 'node' : 'nodes'} ${named}${more}: ${problem.message}` };
    });
  }
}
