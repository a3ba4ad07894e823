import type { ApplyReport } from '@stems/shared';
import type { Engine } from '../../daemon/engine-port.js';
import { Outbox } from '../../state/outbox.js';
import type { CliContext } from '../context.js';
import { loadOneShot } from './_bundle.js';

/** Applies the last good bundle once, without the hub; the report is queued for the daemon to send. */
export async function applyOnceCommand(ctx: CliContext, engine?: Engine): Promise<ApplyReport> {
  const { config, state, payload, facts, engine: eng, renderCache } = await loadOneShot(ctx, engine);
  const report = await eng.apply(payload, facts.facts, facts.hash, renderCache);
  await state.writeLastReport(report);
  await new Outbox(config.paths.state).push({ type: 'report', payload: report });
  return report;
}
