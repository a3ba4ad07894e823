import type { StemsError } from '@stems/shared';

export interface TemplatePosition {
  line: number;
  col: number;
}

function numberDetail(err: StemsError, ...keys: string[]): number | undefined {
  for (const key of keys) {
    const value = err.details?.[key];
    if (typeof value === 'number' && Number.isFinite(value)) return value;
  }
  return undefined;
}

/**
 * Handlebars parse errors carry no location, only a message such as
 * "Parse error on line 3:\n…{{#if x}}\n----------^". The snippet is the last
 * ≤20 characters read, newlines dropped; finding where that text ends on the
 * reported line gives the column.
 */
function parseErrorPosition(message: string, source: string): TemplatePosition | undefined {
  const lines = message.split('\n');
  const match = /Parse error on line (\d+)/.exec(lines[0] ?? '');
  if (!match) return undefined;
  const line = Number(match[1]);
  const caret = (lines[2] ?? '').indexOf('^');
  const past = caret < 0 ? '' : (lines[1] ?? '').slice(0, caret).replace(/^\.\.\./, '');
  const starts = [0];
  for (let i = 0; i < source.length; i++) if (source[i] === '\n') starts.push(i + 1);
  const lineStart = starts[line - 1];
  if (lineStart === undefined) return { line, col: 1 };
  const lineEnd = starts[line] ?? source.length + 1;
  // source offsets of the text with newlines removed, as the lexer shows it
  const offsets: number[] = [];
  let stripped = '';
  for (let i = 0; i < source.length; i++) {
    if (source[i] === '\n') continue;
    stripped += source[i];
    offsets.push(i);
  }
  for (let from = stripped.indexOf(past); from >= 0; from = stripped.indexOf(past, from + 1)) {
    const end = past === '' ? lineStart : (offsets[from + past.length - 1] ?? 0) + 1;
    if (end >= lineStart && end < lineEnd) return { line, col: end - lineStart + 1 };
  }
  return { line, col: 1 };
}

/** Line and column (1-based) inside the template of an error from compileTemplate or a render. */
export function templateErrorPosition(err: StemsError, source: string): TemplatePosition | undefined {
  const line = numberDetail(err, 'line');
  const col = numberDetail(err, 'col', 'column');
  if (line !== undefined && col !== undefined) return { line, col };
  const cause = err.cause instanceof Error ? err.cause.message : '';
  return parseErrorPosition(cause, source) ?? (line === undefined ? undefined : { line, col: 1 });
}

/** The first line of the underlying error, without the "name:line:col: " prefix compileTemplate adds. */
export function templateErrorText(err: StemsError): string {
  const cause = err.cause instanceof Error ? err.cause.message.split('\n') : [];
  if (cause[0]?.startsWith('Parse error')) {
    const expected = cause.find((l) => l.startsWith('Expecting'));
    if (expected?.endsWith("got 'EOF'")) return 'parse error: the template ends inside a block (a {{/…}} is missing)';
    return expected ? `parse error: ${expected}` : 'parse error';
  }
  const name = typeof err.details?.template === 'string' ? err.details.template : '';
  // drop the "name:line:col: " prefix and Handlebars' " - line:col" suffix: the problem has its own position
  return err.message.replace(new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(:\\d+:\\d+)?: `), '').replace(/ - \d+:\d+$/, '');
}
