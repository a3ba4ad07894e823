import { type ResourceOutcome, type ResourceReport, type StemsError, toStemsError, type WireError } from '@stems/shared';
import type { Step } from '../resources/types.js';

/** The report schema's limits: 32 changes of 512 characters, 4 KiB messages. */
const MAX_CHANGES = 32;
const MAX_CHANGE_CHARS = 512;
const MAX_MESSAGE_CHARS = 4000;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function wireError(err: unknown): WireError {
  const error: StemsError = toStemsError(err, 'STEMS_APPLY_FAILED');
  const json = error.toJSON();
  const wire: WireError = { code: json.code, message: clip(json.message, MAX_MESSAGE_CHARS) };
  if (json.hint !== undefined) wire.hint = clip(json.hint, MAX_MESSAGE_CHARS);
  if (json.details !== undefined) wire.details = json.details;
  return wire;
}

export function resourceReport(
  id: string,
  outcome: ResourceOutcome,
  options: { changes?: string[]; step?: Step | undefined; durationMs: number },
): ResourceReport {
  const changes = (options.changes ?? options.step?.changes ?? []).slice(0, MAX_CHANGES).map((c) => clip(c, MAX_CHANGE_CHARS));
  const report: ResourceReport = { id, outcome, changes, durationMs: Math.round(options.durationMs * 1000) / 1000 };
  if (options.step?.diff !== undefined) report.diff = options.step.diff;
  return report;
}

/** Adds words to a report entry, within the schema's limits, skipping repeats. */
export function addChanges(report: ResourceReport, more: readonly string[]): void {
  for (const change of more) {
    const clipped = clip(change, MAX_CHANGE_CHARS);
    if (report.changes.length < MAX_CHANGES && !report.changes.includes(clipped)) report.changes.push(clipped);
  }
}
