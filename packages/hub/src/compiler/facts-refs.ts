/** `facts` as a path head: `facts.cpu`, `@root.facts`, `../facts`, but not `myfacts` or `vars.facts`. */
const FACTS_PATH = /(?:^|[\s(=])(?:@root\.|(?:\.\.\/)+)?facts(?![\w-])/;
const MUSTACHE = /\{\{([\s\S]*?)\}\}/g;

/**
 * Whether a template's expressions refer to the node's facts. The hub cannot
 * render those before the node has reported its facts, so they wait instead
 * of failing. Literal text outside `{{ }}` does not count.
 */
export function templateUsesFacts(source: string): boolean {
  for (const match of source.matchAll(MUSTACHE)) {
    const inner = (match[1] ?? '').replace(/^[#/^~!>\s]+/, ' ');
    if (FACTS_PATH.test(inner)) return true;
  }
  return false;
}

/** Whether a `when:` condition refers to facts. */
export function conditionUsesFacts(condition: string): boolean {
  return FACTS_PATH.test(` ${condition}`);
}
