/**
 * What the demo prints: numbered steps with their timing, the commands it runs
 * (as a user would type them) and their output, indented. Colour only on a TTY
 * and never with NO_COLOR.
 */

type Paint = (text: string) => string;

export interface OutputOptions {
  write: (text: string) => void;
  color: boolean;
  /** Printed in place of the checkout's absolute path, so commands read as a user types them. */
  repoRoot: string;
}

export class Output {
  readonly #write: (text: string) => void;
  readonly #repoRoot: string;
  readonly bold: Paint;
  readonly dim: Paint;
  readonly green: Paint;
  readonly red: Paint;
  readonly cyan: Paint;

  constructor(opts: OutputOptions) {
    this.#write = opts.write;
    this.#repoRoot = opts.repoRoot.endsWith('/') ? opts.repoRoot : `${opts.repoRoot}/`;
    const sgr = (code: string): Paint => (opts.color ? (t) => `\x1b[${code}m${t}\x1b[0m` : (t) => t);
    this.bold = sgr('1');
    this.dim = sgr('2');
    this.green = sgr('32');
    this.red = sgr('31');
    this.cyan = sgr('36');
  }

  line(text = ''): void {
    this.#write(`${text}\n`);
  }

  stepStart(index: number, total: number, title: string): void {
    this.line();
    this.line(this.bold(`▸ ${index}/${total} ${title}`));
  }

  stepDone(ms: number): void {
    this.line(this.green(`  ✓ ${seconds(ms)}`));
  }

  /** A command the demo runs, shown as typed (checkout paths made relative); `as` names the node it runs as. */
  command(argv: readonly string[], as?: string): void {
    const prompt = as ? `(${as}) $` : '$';
    this.line(this.cyan(`  ${prompt} ${argv.map((a) => quote(this.relative(a))).join(' ')}`));
  }

  /** Output of a command or a file, indented under its step. */
  block(text: string): void {
    const body = text.replace(/\s+$/, '');
    if (body === '') return;
    for (const l of body.split('\n')) this.line(`    ${l}`);
  }

  note(text: string): void {
    this.line(this.dim(`  · ${text}`));
  }

  relative(text: string): string {
    return text.startsWith(this.#repoRoot) ? text.slice(this.#repoRoot.length) : text;
  }
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

const SHELL_OPERATORS = new Set(['&', '>', '>>', '|']);

/** Shell quoting for display: bare words stay bare. */
function quote(arg: string): string {
  if (SHELL_OPERATORS.has(arg)) return arg;
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}
