import { ERROR_CODES, type ErrorCode } from './errors.js';

/** Area headings, by the word after STEMS_ (STEMS_<AREA>_<WHAT>). */
const AREAS: [title: string, words: string[]][] = [
  ['Repository and paths', ['REPO', 'PATH']],
  ['Templates', ['TEMPLATE']],
  ['Bundles and keys', ['BUNDLE', 'KEY']],
  ['Wire protocol and enrollment', ['WIRE', 'HUB_KEY', 'NODE_PENDING', 'NODE_REJECTED']],
  ['Hub', ['HUB', 'GIT', 'REVISION', 'NODE', 'NOT', 'AUTH', 'REQUEST', 'TOKEN']],
  ['Agent and apply', ['AGENT', 'APPLY']],
  ['Command line and internal', ['CLI', 'INTERNAL']],
];

function areaOf(code: ErrorCode): string {
  const rest = code.slice('STEMS_'.length);
  // the longest matching word wins, so STEMS_HUB_KEY_MISMATCH is "wire", not "hub"
  let best: [title: string, length: number] = ['Other', 0];
  for (const [title, words] of AREAS) {
    for (const word of words) {
      if ((rest === word || rest.startsWith(`${word}_`)) && word.length > best[1]) best = [title, word.length];
    }
  }
  return best[0];
}

/** docs/errors.md, generated from ERROR_CODES. Regenerate with `pnpm docs:errors`. */
export function renderErrorsDoc(): string {
  const out: string[] = [
    '# Error codes',
    '',
    '<!-- Generated from packages/shared/src/errors.ts by `pnpm docs:errors`. Do not edit by hand. -->',
    '',
    'Every error that crosses a boundary (wire, API, CLI, report) carries a stable',
    '`STEMS_<AREA>_<WHAT>` code. Codes are never renamed or reused. As JSON',
    '(`StemsError.toJSON()`, API error bodies, wire `error` frames, reports):',
    '',
    '```json',
    '{ "code": "STEMS_BUNDLE_REPLAY", "message": "what is wrong", "hint": "what to do", "details": { } }',
    '```',
    '',
    '`hint` and `details` are optional. Repository problems also carry `file`, `line`',
    'and `col` and print as `file:line:col: message`.',
  ];
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  for (const title of [...AREAS.map(([t]) => t), 'Other']) {
    const inArea = codes.filter((code) => areaOf(code) === title);
    if (inArea.length === 0) continue;
    out.push('', `## ${title}`, '', '| Code | Meaning |', '|---|---|');
    for (const code of inArea) out.push(`| \`${code}\` | ${ERROR_CODES[code].replaceAll('|', '\\|')} |`);
  }
  return `${out.join('\n')}\n`;
}
