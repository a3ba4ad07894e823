import type { ApplyReport, StemsError } from '@stems/shared';
import type { EnrollResult } from '../identity/enroll.js';
import type { FactsResult } from './commands/facts.js';
import type { PlanResult } from './commands/plan.js';

export interface Paint {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

/** ANSI colours on a TTY only (DESIGN §8); plain text everywhere else. */
export function paint(color: boolean): Paint {
  const wrap = (code: number, reset: number) => (s: string) => (color ? `\u001b[${code}m${s}\u001b[${reset}m` : s);
  return { red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39), bold: wrap(1, 22), dim: wrap(2, 22) };
}

function colorDiff(diff: string, p: Paint): string {
  return diff
    .split('\n')
    .map((line) =>
      line.startsWith('+') && !line.startsWith('+++')
        ? p.green(line)
        : line.startsWith('-') && !line.startsWith('---')
          ? p.red(line)
          : line,
    )
    .join('\n');
}

export function formatPlan(plan: PlanResult, p: Paint): string {
  if (plan.changes.length === 0) return `${p.green('converged')}: bundle serial ${plan.serial}, nothing to change\n`;
  const lines = [`bundle serial ${plan.serial}: ${plan.changes.length} change(s)`];
  for (const c of plan.changes) {
    lines.push(`${p.yellow('~')} ${p.bold(c.id)} ${p.dim(`(${c.action})`)}${c.changes.length ? `: ${c.changes.join(', ')}` : ''}`);
    if (c.diff) lines.push(colorDiff(c.diff.replace(/\n$/, ''), p));
  }
  return `${lines.join('\n')}\n`;
}

export function formatReport(report: ApplyReport, p: Paint): string {
  const color = report.status === 'failed' || report.status === 'rolled_back' ? p.red : report.status === 'changed' ? p.yellow : p.green;
  const lines = [`${color(report.status)}: bundle serial ${report.serial} in ${Math.round(report.durationMs)} ms`];
  for (const r of report.resources) {
    if (r.outcome === 'unchanged') continue;
    lines.push(
      `  ${r.outcome === 'failed' ? p.red('✗') : p.yellow('~')} ${r.id} ${p.dim(r.outcome)}${r.changes.length ? `: ${r.changes.join(', ')}` : ''}`,
    );
    if (r.error) lines.push(`    ${p.red(r.error.code)}: ${r.error.message}`);
  }
  if (report.error) lines.push(`${p.red(report.error.code)}: ${report.error.message}`);
  return `${lines.join('\n')}\n`;
}

export function formatFacts(result: FactsResult, p: Paint): string {
  const f = result.facts;
  const rows: Array<[string, string]> = [
    ['hostname', `${f.hostname} (${f.fqdn})`],
    ['os', `${f.os.distro} ${f.os.release} ${f.os.codename} · kernel ${f.os.kernel} · ${f.os.arch}`],
    ['cpu', `${f.cpu.brand} · ${f.cpu.cores} cores (${f.cpu.physicalCores} physical)`],
    ['memory', `${(f.memory.totalBytes / 2 ** 30).toFixed(1)} GiB`],
    ['primaryIp', f.primaryIp || '-'],
    ['network', f.network.map((n) => `${n.iface} ${n.ipv4 || '-'}`).join(', ') || '-'],
    ['disks', f.disks.map((d) => `${d.device} ${(d.sizeBytes / 1e9).toFixed(0)} GB`).join(', ') || '-'],
    ['gpus', f.gpus.map((g) => `${g.vendor} ${g.model} ${g.vramMiB} MiB`).join(', ') || '-'],
    ['virtual', String(f.virtual)],
    ['custom', Object.keys(f.custom).join(', ') || '-'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const body = rows.map(([k, v]) => `${p.bold(k.padEnd(width))}  ${v}`).join('\n');
  return `${body}\n${p.dim(`hash ${result.hash.slice(0, 16)} · gathered ${result.gatheredAt}${result.fromCache ? ' (cached)' : ''}`)}\n`;
}

export function formatEnroll(r: EnrollResult, p: Paint): string {
  const status = {
    accepted: p.green('accepted'),
    pending: p.yellow('pending'),
    refused: p.red('refused'),
    unreachable: p.yellow('unreachable'),
    skipped: p.dim('not contacted'),
  }[r.hub.status];
  return [
    `enrolled node ${p.bold(r.node)}`,
    `  config       ${r.configPath}`,
    `  node key     ${r.keyPath}${r.keyCreated ? ' (new)' : ' (kept)'}`,
    `  fingerprint  ${r.fingerprint}`,
    `  hub          ${r.hub.url}: ${status}${r.hub.error ? ` (${r.hub.error})` : ''}`,
    '',
    r.next,
    '',
  ].join('\n');
}

export function formatError(err: StemsError, p: Paint): string {
  return `${p.red('error')} ${err.code}: ${err.message}\n${err.hint ? `  ${p.dim('hint:')} ${err.hint}\n` : ''}`;
}
