import { unifiedDiff } from '@stems/shared';

/** Past this size a file is not diffed (a diff that large helps no reviewer). @default 256 KiB */
const MAX_DIFF_INPUT_BYTES = 256 * 1024;
/** The report schema caps a diff at 64 KiB. */
const MAX_DIFF_BYTES = 60 * 1024;

function isText(bytes: Buffer): boolean {
  return !bytes.subarray(0, 8192).includes(0);
}

/** A unified diff of old → new when both are text and small enough; a one-line note otherwise. */
export function textDiff(oldBytes: Buffer | undefined, newBytes: Buffer, path: string): string {
  const old = oldBytes ?? Buffer.alloc(0);
  if (old.length > MAX_DIFF_INPUT_BYTES || newBytes.length > MAX_DIFF_INPUT_BYTES) {
    return `--- ${path}\n+++ ${path}\n@@ too large to diff (${old.length} → ${newBytes.length} bytes) @@\n`;
  }
  if (!isText(old) || !isText(newBytes)) {
    return `--- ${path}\n+++ ${path}\n@@ binary content differs (${old.length} → ${newBytes.length} bytes) @@\n`;
  }
  const diff =
    old.length === 0 ? creation(newBytes.toString('utf8'), path) : unifiedDiff(old.toString('utf8'), newBytes.toString('utf8'), { path });
  return diff.length > MAX_DIFF_BYTES ? `${diff.slice(0, MAX_DIFF_BYTES)}\n@@ diff truncated @@\n` : diff;
}

/** The diff of a new file, as `diff -u` prints it, without running the diff algorithm (a first apply makes many). */
export function creation(text: string, path: string): string {
  if (text === '') return '';
  const lines = text.split('\n');
  const noNewline = lines[lines.length - 1] !== '';
  if (!noNewline) lines.pop();
  const body = lines.map((l) => `+${l}`).join('\n');
  return `--- ${path}\n+++ ${path}\n@@ -0,0 +1${lines.length === 1 ? '' : `,${lines.length}`} @@\n${body}\n${noNewline ? '\\ No newline at end of file\n' : ''}`;
}
