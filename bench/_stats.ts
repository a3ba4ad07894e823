import { readFile, writeFile } from 'node:fs/promises';

export function stats(samples: number[]): { median: number; min: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/** The p-th percentile (0–100) by nearest rank. */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export const median = (samples: number[]): number => stats(samples).median;

/** "[min–max]" in whole milliseconds. */
export function spread(samples: number[]): string {
  const s = stats(samples);
  return `[${Math.round(s.min)}–${Math.round(s.max)}]`;
}

/**
 * Replaces the section that starts with `heading` in a results file (up to the
 * next "## "), or appends it; `section` includes the heading line.
 */
export async function replaceSection(path: string, heading: string, section: string): Promise<void> {
  let text = '# Benchmarks\n';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const start = text.indexOf(heading);
  const body = section.endsWith('\n') ? section : `${section}\n`;
  if (start < 0) {
    text = `${text.trimEnd()}\n\n${body}`;
  } else {
    const next = text.indexOf('\n## ', start + 1);
    text = `${text.slice(0, start)}${body}${next < 0 ? '' : `\n${text.slice(next + 1)}`}`;
  }
  await writeFile(path, text);
}
